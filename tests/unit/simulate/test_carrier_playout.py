"""The simulated carrier's playback side: how much loud agent audio it received, when the
first loud message arrived, and a playout that never started closes at once."""

from __future__ import annotations

import numpy as np
import pytest

from omnivoice_rtc.media_streams.vonage import VonageCodec
from omnivoice_rtc.simulate.carrier_playout import CarrierPlayout

pytestmark = pytest.mark.unit

RATE_HZ = 16000
FRAME_SAMPLES = RATE_HZ * 20 // 1000


def _playout() -> CarrierPlayout:
    return CarrierPlayout(carrier="vonage", stream_id="", codec=VonageCodec(sample_rate=RATE_HZ))


def test_received_seconds_counts_the_loud_20_ms_frames() -> None:
    playout = _playout()
    assert playout.received_seconds() == 0.0
    t = np.arange(FRAME_SAMPLES * 10) / RATE_HZ
    loud = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    quiet = np.zeros(FRAME_SAMPLES * 5, dtype=np.int16)
    playout.received_pcm += quiet.tobytes() + loud.tobytes() + quiet.tobytes()
    assert playout.received_seconds() == pytest.approx(0.2)
    assert playout.received_seconds(threshold=10_000.0) == 0.0


def test_first_loud_after_skips_quiet_and_earlier_messages() -> None:
    playout = _playout()
    playout.audio_log += [(1.0, 900.0), (2.0, 10.0), (3.0, 700.0), (4.0, 2000.0)]
    assert playout.first_loud_after(1.5) == 3.0
    assert playout.first_loud_after(1.5, threshold=1000.0) == 4.0
    assert playout.first_loud_after(4.5) is None


async def test_a_playout_that_never_started_closes_at_once() -> None:
    playout = _playout()
    assert await playout.wait_closed(timeout_s=0.1) is None
    await playout.aclose()
    assert playout.commands == []
    assert playout.clears == []
