"""The local pipeline's parts: responder rules, espeak-ng TTS, pocketsphinx STT, builder."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIError, llm

from omnivoice_rtc import ConfigError
from omnivoice_rtc.pipelines.local import LocalPipelineOptions, build_local
from omnivoice_rtc.pipelines.local.responder import STORY, RulesResponderLLM, respond
from omnivoice_rtc.pipelines.local.stt import PocketSphinxSTT, pcm16_to_decoder_input
from omnivoice_rtc.pipelines.local.tts import EspeakTTS, WavStreamParser
from tests.conftest import require_binary

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("heard", "reply"),
    [
        ("", "Sorry, I did not catch that."),
        ("I would like to order a pizza", "You said: i would like to order a pizza."),
        ("hello there", "Hello! You said: hello there."),
        ("ok goodbye", "Goodbye! Thanks for calling."),
        ("tell me a story", STORY),
        ("what time is it", "It is 09:05 UTC."),
    ],
)
def test_responder_rules(heard: str, reply: str) -> None:
    assert respond(heard, now=lambda: datetime(2026, 1, 1, 9, 5, tzinfo=UTC)) == reply


async def test_responder_llm_streams_the_reply_for_the_last_user_message() -> None:
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="first")
    chat.add_message(role="assistant", content="You said: first.")
    chat.add_message(role="user", content="hello again")
    pieces = [
        chunk.delta.content
        async for chunk in RulesResponderLLM().chat(chat_ctx=chat)
        if chunk.delta
    ]
    assert "".join(p or "" for p in pieces) == "Hello! You said: hello again."
    assert len(pieces) == 2  # one chunk per sentence


def _wav_header(rate: int, *, fmt: int = 1, bits: int = 16) -> bytes:
    fmt_chunk = struct.pack("<HHIIHH", fmt, 1, rate, rate * 2, 2, bits)
    return (
        b"RIFF\xff\xff\xff\x7fWAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt_chunk
        + b"data\xff\xff\xff\x7f"
    )


def test_wav_parser_handles_split_header_and_streaming_sizes() -> None:
    raw = _wav_header(22050) + b"\x01\x00\x02\x00"
    parser = WavStreamParser()
    out = b"".join(parser.feed(raw[i : i + 5]) for i in range(0, len(raw), 5))
    assert out == b"\x01\x00\x02\x00"
    assert parser.sample_rate_hz == 22050
    assert parser.num_channels == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"OggS" + b"\x00" * 20, "not a RIFF/WAVE"), (_wav_header(8000, fmt=3, bits=32), "not PCM16")],
)
def test_wav_parser_rejects_other_formats(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WavStreamParser().feed(data)


async def _synthesize(tts: EspeakTTS, text: str) -> rtc.AudioFrame:
    frames = [ev.frame async for ev in tts.synthesize(text)]
    return rtc.combine_audio_frames(frames)


async def test_espeak_tts_produces_non_silent_audio() -> None:
    require_binary("espeak-ng")
    frame = await _synthesize(EspeakTTS(), "Hello! You said: order a pizza.")
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
    assert frame.sample_rate == 22050
    assert frame.duration > 1.0
    assert np.sqrt(np.mean(samples**2)) > 300


async def test_espeak_tts_failure_is_an_api_error() -> None:
    tts = EspeakTTS(binary="false")  # exits 1 without output
    with pytest.raises(APIError, match="exited with status 1"):
        await _synthesize(tts, "hello")


async def test_espeak_sentence_is_recognised_by_pocketsphinx() -> None:
    require_binary("espeak-ng")
    espeak = EspeakTTS(words_per_minute=140)
    frame = await _synthesize(espeak, "I would like to order a pizza")
    event = await PocketSphinxSTT().recognize(frame)
    words = event.alternatives[0].text.split()
    assert "order" in words
    assert "pizza" in words


def test_decoder_input_is_mono_16k() -> None:
    stereo = np.zeros(48000 * 2, dtype=np.int16).tobytes()  # 1 s of stereo at 48 kHz
    out = pcm16_to_decoder_input(stereo, sample_rate_hz=48000, num_channels=2)
    assert abs(len(out) // 2 - 16000) < 200


def test_build_local_parts_and_missing_espeak() -> None:
    require_binary("espeak-ng")
    parts = build_local(LocalPipelineOptions(endpointing_min_delay_ms=250, stt="pocketsphinx"))
    assert parts.name == "local"
    assert isinstance(parts.stt, PocketSphinxSTT)
    assert isinstance(parts.llm, RulesResponderLLM)
    assert isinstance(parts.tts, EspeakTTS)
    assert parts.vad is not None
    assert parts.session_options["turn_handling"]["turn_detection"] == "vad"
    assert parts.session_options["turn_handling"]["endpointing"] == {"min_delay": 0.25}
    with pytest.raises(ConfigError, match="OMNIVOICE_ESPEAK_BIN"):
        build_local(LocalPipelineOptions(espeak_bin="no-such-espeak-binary"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNIVOICE_ESPEAK_WPM": "fast"}, "OMNIVOICE_ESPEAK_WPM"),
        ({"OMNIVOICE_VAD_MIN_SILENCE_MS": "5"}, "OMNIVOICE_VAD_MIN_SILENCE_MS"),
    ],
)
def test_local_options_from_env_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LocalPipelineOptions.from_env(env)
