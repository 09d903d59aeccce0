"""The generated hold audio: one cycle of two chime notes and quiet, looped frame by frame."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from omnivoice_rtc.calls.hold_audio import (
    CYCLE_S,
    HOLD_RATE_HZ,
    NOTES_HZ,
    hold_cycle_pcm,
    hold_frames_pcm,
)

pytestmark = pytest.mark.unit


def _peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(pcm.size), n=rate))
    return float(np.argmax(spectrum))


def test_one_cycle_is_two_notes_then_quiet() -> None:
    pcm = np.frombuffer(hold_cycle_pcm(), dtype="<i2").astype(np.float64)
    assert pcm.size == CYCLE_S * HOLD_RATE_HZ
    note = int(0.35 * HOLD_RATE_HZ)
    for index, freq in enumerate(NOTES_HZ):
        part = pcm[index * note + 1000 : (index + 1) * note - 1000]
        assert abs(_peak_hz(part, HOLD_RATE_HZ) - freq) <= 2
        assert 2000 < np.sqrt(np.mean(part**2)) < 4000  # about -20 dBFS
    assert not pcm[2 * note :].any()  # quiet until the next cycle
    assert np.abs(pcm).max() < 32767 * 0.2


def test_frames_loop_the_cycle_seamlessly() -> None:
    frames = list(itertools.islice(hold_frames_pcm(8000, frame_ms=20), 400))  # 8 s
    assert {len(f) for f in frames} == {320}
    joined = b"".join(frames)
    cycle = hold_cycle_pcm(8000)
    assert joined[: len(cycle)] == cycle
    assert joined[len(cycle) : 2 * len(cycle)] == cycle
