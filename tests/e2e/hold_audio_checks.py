"""Does a caller's received audio hold the hold chime (omnivoice_rtc.calls.hold_audio)?"""

from __future__ import annotations

import numpy as np

from omnivoice_rtc.calls.hold_audio import NOTES_HZ

__all__ = ["chime_windows", "heard_hold_chime"]


def chime_windows(pcm: bytes, freq_hz: float, *, rate_hz: int) -> int:
    """100 ms windows (hop 50 ms) of PCM16 mono at ``rate_hz`` whose loudest frequency is
    within 15 Hz of ``freq_hz`` and whose RMS is at least 200."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float64)
    size = rate_hz // 10
    count = 0
    for start in range(0, samples.size - size, size // 2):
        window = samples[start : start + size]
        if np.sqrt(np.mean(window**2)) < 200:
            continue
        spectrum = np.abs(np.fft.rfft(window * np.hanning(size), n=rate_hz))  # 1 Hz bins
        if abs(float(np.argmax(spectrum)) - freq_hz) <= 15:
            count += 1
    return count


def heard_hold_chime(pcm: bytes, *, rate_hz: int) -> bool:
    """True when both chime notes are the loudest tone of some window of ``pcm``."""
    return all(chime_windows(pcm, f, rate_hz=rate_hz) for f in NOTES_HZ)
