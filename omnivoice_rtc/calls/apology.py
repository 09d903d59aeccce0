"""The apology a caller hears when no agent can take the call any more.

A short recording shipped in the package (``audio/apology_8k.wav``: "Sorry, something went
wrong. Please call again later.", 3.5 s, rendered once with espeak-ng), so playing it needs
no download, no TTS and no agent. :func:`apology_pcm` gives it as PCM16 mono at the rate
asked (resampled from 8 kHz, cached).
"""

from __future__ import annotations

import functools
import wave
from importlib import resources
from typing import Final

import numpy as np

from omnivoice_rtc.audio.resampler import resample

__all__ = ["APOLOGY_RATE_HZ", "apology_ms", "apology_pcm"]

APOLOGY_RATE_HZ: Final = 8000
"""Sample rate of the shipped recording (Hz)."""

_FILE: Final = "apology_8k.wav"


@functools.cache
def _recording() -> bytes:
    source = resources.files("omnivoice_rtc.calls").joinpath("audio", _FILE)
    with source.open("rb") as raw, wave.open(raw, "rb") as wav:
        if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (
            1,
            2,
            APOLOGY_RATE_HZ,
        ):
            raise ValueError(f"{_FILE}: expected mono PCM16 at {APOLOGY_RATE_HZ} Hz")
        return wav.readframes(wav.getnframes())


@functools.cache
def apology_pcm(rate_hz: int) -> bytes:
    """The apology as PCM16 mono little-endian at ``rate_hz`` (8000, 16000, 24000 or 48000 Hz)."""
    pcm = _recording()
    if rate_hz == APOLOGY_RATE_HZ:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    return resample(samples, from_rate=APOLOGY_RATE_HZ, to_rate=rate_hz).astype("<i2").tobytes()


def apology_ms() -> int:
    """Length of the apology (ms)."""
    return len(_recording()) * 1000 // (2 * APOLOGY_RATE_HZ)
