"""Helpers shared by the loopback fakes: test audio (tone, espeak-ng speech, RMS, WAV)
and the scripted tool call. Import them from the fake modules that re-export them."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "SPEECH_SAMPLE_RATE",
    "FakeToolCall",
    "espeak_pcm16",
    "pcm16_rms",
    "spread_words",
    "tone_pcm16",
    "wav_bytes",
]

SPEECH_SAMPLE_RATE = 24000
"""Default rate of the helpers' audio (Hz): OpenAI's ``pcm`` and realtime rate."""
SAMPLE_RATE = SPEECH_SAMPLE_RATE


def tone_pcm16(duration_ms: int, *, sample_rate: int = SAMPLE_RATE, hz: float = 440.0) -> bytes:
    """A sine tone at -10 dBFS, mono s16le, ``duration_ms`` long, with 5 ms fades."""
    n = int(sample_rate * duration_ms / 1000)
    t = np.arange(n, dtype=np.float64) / sample_rate
    wave_ = 0.3 * np.sin(2 * math.pi * hz * t)
    fade = min(n // 2, int(sample_rate * 0.005))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave_[:fade] *= ramp
        wave_[-fade:] *= ramp[::-1]
    return (wave_ * 32767).astype("<i2").tobytes()


def _resample_linear(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    if src_rate == dst_rate or samples.size == 0:
        return samples
    n_out = round(samples.size * dst_rate / src_rate)
    x_old = np.arange(samples.size, dtype=np.float64)
    x_new = np.linspace(0, samples.size - 1, n_out)
    return np.interp(x_new, x_old, samples.astype(np.float64))


def espeak_pcm16(text: str, *, sample_rate: int = SAMPLE_RATE, wpm: int = 175) -> bytes:
    """Speech of ``text`` from espeak-ng, resampled to ``sample_rate`` Hz mono s16le.

    Raises RuntimeError when espeak-ng is not installed.
    """
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise RuntimeError("espeak-ng is not installed")
    out = subprocess.run(
        [binary, "-s", str(wpm), "--stdout", text], check=True, capture_output=True, timeout=30
    ).stdout
    with wave.open(io.BytesIO(out)) as w:
        src_rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    samples = np.frombuffer(raw, dtype="<i2")
    resampled = _resample_linear(samples, src_rate, sample_rate)
    out_bytes: bytes = np.clip(resampled, -32768, 32767).astype("<i2").tobytes()
    return out_bytes


def pcm16_rms(pcm: bytes) -> float:
    """Root-mean-square amplitude of s16le samples (0..32768)."""
    usable = len(pcm) - len(pcm) % 2
    if usable <= 0:
        return 0.0
    samples = np.frombuffer(pcm[:usable], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples)))


def wav_bytes(pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Wrap mono s16le ``pcm`` in a WAV container."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def spread_words(text: str, chunks: int) -> list[str]:
    """Split ``text`` into ``chunks`` transcript deltas (some may be empty) that join to it."""
    words = text.split(" ")
    per_chunk = max(1, -(-len(words) // max(1, chunks)))
    out: list[str] = []
    for n in range(max(1, chunks)):
        piece = words[n * per_chunk : (n + 1) * per_chunk]
        out.append(((" " if n and piece else "") + " ".join(piece)) if piece else "")
    return out


@dataclass(slots=True)
class FakeToolCall:
    """A function call the fake model makes once, before answering."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str = "call_fake_0001"
