"""The shipped apology: readable without a download, audible, resampled on demand."""

from __future__ import annotations

import numpy as np
import pytest

from omnivoice_rtc.calls.apology import APOLOGY_RATE_HZ, apology_ms, apology_pcm

pytestmark = pytest.mark.unit


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_the_apology_is_a_short_audible_recording() -> None:
    pcm = apology_pcm(APOLOGY_RATE_HZ)
    assert 2000 <= apology_ms() <= 5000  # "short"
    assert abs(len(pcm) / 2 / APOLOGY_RATE_HZ * 1000 - apology_ms()) < 1
    assert _rms(pcm) > 500  # speech, not silence


@pytest.mark.parametrize("rate_hz", [16000, 24000, 48000])
def test_it_is_resampled_to_the_rate_asked(rate_hz: int) -> None:
    pcm = apology_pcm(rate_hz)
    seconds = len(pcm) / 2 / rate_hz
    assert abs(seconds * 1000 - apology_ms()) < 5
    assert _rms(pcm) > 500
    assert apology_pcm(rate_hz) is pcm  # cached
