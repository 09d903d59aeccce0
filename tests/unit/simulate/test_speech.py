"""Caller audio files: WAV round trip, stereo mixed down, bad files named."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.simulate.speech import read_wav, resample, speak, write_wav
from tests.conftest import require_binary

pytestmark = pytest.mark.unit


def test_wav_round_trip_and_stereo_mixdown(tmp_path: Path) -> None:
    pcm = np.arange(-800, 800, dtype=np.int16).tobytes()
    write_wav(tmp_path / "a.wav", pcm, 8000)
    assert read_wav(tmp_path / "a.wav") == (pcm, 8000)
    stereo = np.array([[100, 300]] * 10, dtype=np.int16).tobytes()
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(stereo)
    mono, rate = read_wav(tmp_path / "s.wav")
    assert rate == 16000
    assert np.frombuffer(mono, dtype=np.int16).tolist() == [200] * 10


def test_unreadable_wavs_name_the_option(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"not a wav")
    with pytest.raises(ConfigError, match=r"^--wav: cannot read"):
        read_wav(tmp_path / "x.wav")
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 100)
    with pytest.raises(ConfigError, match="16-bit"):
        read_wav(tmp_path / "8bit.wav")


def test_speech_is_rendered_at_the_asked_rate() -> None:
    require_binary("espeak-ng")
    pcm = speak("hello", rate_hz=8000)
    assert 0.2 < len(pcm) / 2 / 8000 < 2.0
    assert len(resample(pcm, 8000, 16000)) == pytest.approx(2 * len(pcm), rel=0.05)
    with pytest.raises(ConfigError, match="OMNIVOICE_ESPEAK_BIN"):
        speak("hello", rate_hz=8000, espeak_bin="no-such-espeak")
