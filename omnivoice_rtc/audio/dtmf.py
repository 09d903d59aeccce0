"""In-band DTMF (ITU-T Q.23 tone pairs) as PCM16, and a Goertzel detector for it.

Carrier media streams have no message that plays a digit to the caller, so the shim sends
the agent's digits as tones inside the audio, as a phone does. The detector reads digits
back from PCM16 (tests, and anyone checking what a line carried).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

__all__ = ["DTMF_DIGITS", "detect_dtmf", "dtmf_tone"]

_LOW_HZ: Final = (697.0, 770.0, 852.0, 941.0)
_HIGH_HZ: Final = (1209.0, 1336.0, 1477.0, 1633.0)
_KEYPAD: Final = ("123A", "456B", "789C", "*0#D")

DTMF_DIGITS: Final = frozenset("0123456789*#ABCD")
"""Digits a DTMF tone pair can carry."""

_PAIRS: Final = {
    digit: (_LOW_HZ[row], _HIGH_HZ[col])
    for row, keys in enumerate(_KEYPAD)
    for col, digit in enumerate(keys)
}


def dtmf_tone(
    digit: str,
    *,
    sample_rate_hz: int,
    tone_ms: int = 100,
    gap_ms: int = 60,
    level_dbfs: float = -10.0,
) -> bytes:
    """PCM16 mono of ``digit``: ``tone_ms`` of its two sines (each at ``level_dbfs`` - 3 dB,
    so the pair peaks near ``level_dbfs``), then ``gap_ms`` of silence. 100 ms tone and
    60 ms gap are above the 40 ms minimums receivers require (Q.24)."""
    pair = _PAIRS.get(digit.upper()) if len(digit) == 1 else None
    if pair is None:
        raise ValueError(f"dtmf digit must be one of 0-9, *, #, A-D, got {digit!r}")
    if sample_rate_hz < 4000:
        raise ValueError(f"dtmf sample_rate_hz must be >= 4000 Hz, got {sample_rate_hz}")
    if tone_ms <= 0 or gap_ms < 0:
        raise ValueError(f"dtmf tone_ms must be > 0 and gap_ms >= 0, got {tone_ms}, {gap_ms}")
    n = sample_rate_hz * tone_ms // 1000
    t = np.arange(n) / sample_rate_hz
    amplitude = 32767.0 * 10 ** ((level_dbfs - 6.02) / 20)
    wave = amplitude * (np.sin(2 * math.pi * pair[0] * t) + np.sin(2 * math.pi * pair[1] * t))
    ramp = min(n // 2, sample_rate_hz // 1000 * 2)  # 2 ms fades: no clicks at the edges
    if ramp:
        fade = np.linspace(0.0, 1.0, ramp)
        wave[:ramp] *= fade
        wave[-ramp:] *= fade[::-1]
    gap = np.zeros(sample_rate_hz * gap_ms // 1000)
    return np.concatenate([wave, gap]).astype(np.int16).tobytes()


def _goertzel_power(block: np.ndarray, freq_hz: float, sample_rate_hz: int) -> float:
    coeff = 2.0 * math.cos(2.0 * math.pi * freq_hz / sample_rate_hz)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = float(x) + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def detect_dtmf(pcm: bytes, *, sample_rate_hz: int, block_ms: int = 20) -> str:
    """Digits heard in PCM16 mono ``pcm``, in order; a digit held over several blocks
    (``block_ms`` each) counts once. A block counts when its strongest low and high tones
    each carry most of their group's energy and together most of the block's."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16).astype(np.float64)
    size = sample_rate_hz * block_ms // 1000
    digits: list[str] = []
    previous = ""
    for start in range(0, len(samples) - size + 1, size):
        block = samples[start : start + size]
        mean_square = float(np.dot(block, block)) / size
        energy = mean_square * size * size / 2  # a sine's Goertzel power, for comparison
        current = ""
        if mean_square > 1e4:  # RMS above 100 (about -50 dBFS); below is silence
            low = [_goertzel_power(block, f, sample_rate_hz) for f in _LOW_HZ]
            high = [_goertzel_power(block, f, sample_rate_hz) for f in _HIGH_HZ]
            row, col = int(np.argmax(low)), int(np.argmax(high))
            strong = low[row] + high[col]
            if low[row] > 0.5 * sum(low) and high[col] > 0.5 * sum(high) and strong > 0.5 * energy:
                current = _KEYPAD[row][col]
        if current and current != previous:
            digits.append(current)
        previous = current
    return "".join(digits)
