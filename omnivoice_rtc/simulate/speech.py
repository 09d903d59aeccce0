"""Caller audio for simulated calls: WAV files in and out, espeak-ng speech, resampling.

Audio is PCM16 mono bytes with its sample rate in Hz beside it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Final

import numpy as np
from livekit import rtc

from omnivoice_rtc._errors import ConfigError

__all__ = [
    "BARGE_IN_TEXT",
    "DEFAULT_QUESTION",
    "read_wav",
    "resample",
    "speak",
    "write_wav",
]

DEFAULT_QUESTION: Final = "Hello there. Can you hear me? What is the weather like today?"
"""What a simulated caller says without ``--wav``."""
BARGE_IN_TEXT: Final = "Stop. Wait a moment please."
"""What a simulated caller says over the agent's answer to test barge-in."""


def resample(pcm: bytes, src_hz: int, dst_hz: int) -> bytes:
    """PCM16 mono from ``src_hz`` to ``dst_hz`` (livekit's high-quality resampler)."""
    if src_hz == dst_hz or not pcm:
        return pcm
    resampler = rtc.AudioResampler(src_hz, dst_hz, quality=rtc.AudioResamplerQuality.HIGH)
    out = bytearray()
    for frame in [*resampler.push(bytearray(pcm)), *resampler.flush()]:
        out += frame.data.tobytes()
    return bytes(out)


def read_wav(path: Path) -> tuple[bytes, int]:
    """(PCM16 mono, rate in Hz) of a 16-bit WAV file; stereo is mixed down.
    ConfigError naming ``--wav`` when it is not a 16-bit PCM WAV."""
    try:
        with wave.open(str(path), "rb") as reader:
            width, channels = reader.getsampwidth(), reader.getnchannels()
            rate = reader.getframerate()
            raw = reader.readframes(reader.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise ConfigError(f"--wav: cannot read {path}: {exc}") from None
    if width != 2:
        raise ConfigError(f"--wav: {path} must be 16-bit PCM, has {8 * width}-bit samples")
    if channels > 1:
        samples = np.frombuffer(raw, dtype="<i2")
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels)
        raw = samples.astype(np.int32).mean(axis=1).astype("<i2").tobytes()
    return raw, rate


def write_wav(path: Path, pcm: bytes, rate_hz: int) -> None:
    """Write PCM16 mono at ``rate_hz`` as a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate_hz)
        writer.writeframes(pcm[: len(pcm) - len(pcm) % 2])


def speak(text: str, *, rate_hz: int, espeak_bin: str = "espeak-ng", wpm: int = 150) -> bytes:
    """espeak-ng speech of ``text`` as PCM16 mono at ``rate_hz``; ConfigError naming
    ``OMNIVOICE_ESPEAK_BIN`` when espeak-ng is missing."""
    binary = shutil.which(espeak_bin)
    if binary is None:
        raise ConfigError(
            f"OMNIVOICE_ESPEAK_BIN: {espeak_bin!r} not found; `make deps` installs it"
        )
    wav = subprocess.run(
        [binary, "--stdout", "-v", "en-us", "-s", str(wpm), text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        src_hz = reader.getframerate()
        raw = reader.readframes(reader.getnframes())
    return resample(raw, src_hz, rate_hz)
