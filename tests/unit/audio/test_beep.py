"""The answering-machine beep detector: a steady tone is a beep; speech-like sound,
noise, silence and a too-short tone are not."""

from __future__ import annotations

import subprocess

import numpy as np
import numpy.typing as npt
import pytest

from omnivoice_rtc.audio.beep import BeepDetector, BeepOptions
from tests.conftest import require_binary

pytestmark = pytest.mark.unit

RATE = 16000


def _pcm(signal: npt.NDArray[np.float64]) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def _tone(hz: float, seconds: float, amplitude: float = 0.3) -> npt.NDArray[np.float64]:
    t = np.arange(int(RATE * seconds)) / RATE
    return amplitude * np.sin(2 * np.pi * hz * t)


def _voiced(seconds: float) -> npt.NDArray[np.float64]:
    """A vowel-like sound: 120 Hz and its harmonics up to 3 kHz, equal amplitudes."""
    t = np.arange(int(RATE * seconds)) / RATE
    wave = sum(np.sin(2 * np.pi * 120 * k * t) for k in range(1, 26))
    return 0.3 * np.asarray(wave, dtype=np.float64) / 25


def _feed_in_frames(detector: BeepDetector, pcm: bytes, frame_bytes: int = 320) -> bool:
    heard = False
    for i in range(0, len(pcm), frame_bytes):
        heard = detector.feed(pcm[i : i + frame_bytes])
    return heard


@pytest.mark.parametrize("hz", [440.0, 1000.0, 1400.0, 2000.0])
def test_a_steady_tone_after_silence_is_a_beep(hz: float) -> None:
    detector = BeepDetector(sample_rate_hz=RATE)
    audio = np.concatenate((np.zeros(RATE // 2), _tone(hz, 0.4), np.zeros(RATE // 4)))
    assert _feed_in_frames(detector, _pcm(audio)) is True
    assert detector.heard
    assert abs(detector.tone_hz - hz) <= 50


def test_an_int16_array_is_accepted_too() -> None:
    detector = BeepDetector(sample_rate_hz=8000)
    t = np.arange(8000) / 8000
    samples = (0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    assert detector.feed(samples) is True


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(np.zeros(RATE), id="silence"),
        pytest.param(_voiced(1.5), id="voiced"),
        pytest.param(np.random.default_rng(7).normal(0, 0.2, RATE), id="noise"),
        pytest.param(_tone(1000, 0.08), id="click-80ms"),
        pytest.param(_tone(1000, 1.0, amplitude=0.003), id="too-quiet"),
        pytest.param(_tone(5000, 1.0), id="out-of-range"),
    ],
)
def test_what_is_not_a_beep(audio: npt.NDArray[np.float64]) -> None:
    detector = BeepDetector(sample_rate_hz=RATE)
    assert _feed_in_frames(detector, _pcm(audio)) is False
    assert not detector.heard


def test_espeak_speech_is_not_a_beep_and_the_tone_after_it_is() -> None:
    espeak = require_binary("espeak-ng")
    wav = subprocess.run(
        [espeak, "--stdout", "-v", "en-us", "Please leave a message after the tone."],
        check=True,
        capture_output=True,
    ).stdout
    rate = int.from_bytes(wav[24:28], "little")
    speech = np.frombuffer(wav[44:], dtype="<i2").astype(np.float64) / 32768.0
    detector = BeepDetector(sample_rate_hz=rate)
    assert _feed_in_frames(detector, _pcm(speech)) is False
    t = np.arange(int(rate * 0.5)) / rate
    assert _feed_in_frames(detector, _pcm(0.3 * np.sin(2 * np.pi * 1000 * t))) is True


def test_min_ms_sets_the_shortest_beep() -> None:
    strict = BeepDetector(sample_rate_hz=RATE, options=BeepOptions(min_ms=500))
    assert _feed_in_frames(strict, _pcm(_tone(1000, 0.3))) is False
    assert _feed_in_frames(strict, _pcm(_tone(1000, 0.3))) is True  # the tone goes on


def test_a_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="sample_rate_hz"):
        BeepDetector(sample_rate_hz=0)


def test_a_vowel_with_one_strong_harmonic_is_not_a_beep() -> None:
    """A synthetic voice's vowel can put ~80 % of a block's energy on one harmonic (espeak's
    "Hello?" reached 0.77, its vowels up to 0.88): held for 300 ms it is still no beep."""
    t = np.arange(int(RATE * 0.3)) / RATE
    harmonics = [(400, 1.0), (800, 0.45), (1200, 0.2)]  # ~80 % of the energy at 400 Hz
    vowel = 0.3 * sum(a * np.sin(2 * np.pi * hz * t) for hz, a in harmonics) / 1.65
    assert not _feed_in_frames(BeepDetector(sample_rate_hz=RATE), _pcm(np.asarray(vowel)))
    beep = _tone(400, 0.3) + 0.003 * np.random.default_rng(7).standard_normal(int(RATE * 0.3))
    assert _feed_in_frames(BeepDetector(sample_rate_hz=RATE), _pcm(beep))
