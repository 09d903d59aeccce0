"""The local pipeline's default recognizer (Whisper tiny.en from a PyPI package) and the
choice between it and pocketsphinx (``OMNIVOICE_LOCAL_STT``)."""

from __future__ import annotations

import pytest
from livekit import rtc

from omnivoice_rtc import ConfigError
from omnivoice_rtc.pipelines.local import LocalPipelineOptions, build_local
from omnivoice_rtc.pipelines.local.stt import LOCAL_STT_ENGINES, PocketSphinxSTT, local_stt
from omnivoice_rtc.pipelines.local.tts import EspeakTTS
from omnivoice_rtc.pipelines.local.whisper_stt import WhisperSTT, bundled_model_dir
from omnivoice_rtc.simulate.speech import speak
from tests.conftest import require_binary

pytestmark = pytest.mark.unit


def test_the_model_ships_in_a_package_and_nothing_is_downloaded() -> None:
    model = bundled_model_dir()
    assert (model / "model.bin").stat().st_size > 50_000_000  # tiny.en weights, ~75 MB
    assert (model / "tokenizer.json").is_file()
    assert (model / "config.json").is_file()


def test_local_stt_builds_the_named_engine() -> None:
    assert LOCAL_STT_ENGINES == ("whisper", "pocketsphinx")
    assert isinstance(local_stt("whisper"), WhisperSTT)
    assert isinstance(local_stt("pocketsphinx"), PocketSphinxSTT)
    assert isinstance(local_stt(), WhisperSTT)
    with pytest.raises(ConfigError, match=r"^OMNIVOICE_LOCAL_STT: must be one of"):
        local_stt("vosk")


def test_whisper_is_the_default_and_pocketsphinx_stays_selectable() -> None:
    require_binary("espeak-ng")
    assert LocalPipelineOptions().stt == "whisper"
    assert LocalPipelineOptions.from_env({"OMNIVOICE_LOCAL_STT": "PocketSphinx"}).stt == (
        "pocketsphinx"
    )
    assert isinstance(build_local().stt, WhisperSTT)
    with pytest.raises(ConfigError, match="OMNIVOICE_LOCAL_STT"):
        LocalPipelineOptions.from_env({"OMNIVOICE_LOCAL_STT": "vosk"})


@pytest.mark.parametrize("rate_hz", [8000, 16000])
async def test_whisper_recognizes_an_espeak_sentence(rate_hz: int) -> None:
    require_binary("espeak-ng")
    pcm = speak("I would like to order a pizza", rate_hz=rate_hz, wpm=140)
    frame = rtc.AudioFrame(pcm, rate_hz, 1, len(pcm) // 2)
    event = await WhisperSTT().recognize(frame)
    words = event.alternatives[0].text.lower().replace(".", "").split()
    assert {"order", "pizza"} <= set(words), words
    assert 0 < event.alternatives[0].confidence <= 1


async def test_silence_gives_an_empty_or_short_transcript() -> None:
    frame = rtc.AudioFrame(bytes(32000), 16000, 1, 16000)
    event = await WhisperSTT().recognize(frame)
    assert len(event.alternatives[0].text.split()) <= 3


async def test_whisper_recognizes_the_local_tts() -> None:
    require_binary("espeak-ng")
    tts = EspeakTTS(words_per_minute=140)
    frames = [ev.frame async for ev in tts.synthesize("What is the weather like today")]
    frame = rtc.combine_audio_frames(frames)
    event = await WhisperSTT().recognize(frame)
    assert "weather" in event.alternatives[0].text.lower()
