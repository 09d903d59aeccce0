"""PlayoutCushion: the carrier's lead kept while the agent is silent, from how late the
agent's audio arrives (10-60 ms), or fixed."""

from __future__ import annotations

import pytest

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.shim.playout_cushion import (
    CUSHION_DECAY_MS_PER_S,
    CUSHION_MARGIN_MS,
    MAX_CUSHION_MS,
    MIN_CUSHION_MS,
    PlayoutCushion,
)

pytestmark = pytest.mark.unit


def _arrive(cushion: PlayoutCushion, clock: VirtualClock, gaps_ms: list[float]) -> None:
    """20 ms chunks arriving ``gaps_ms`` apart (the first at once)."""
    cushion.on_arrival(20.0)
    for gap in gaps_ms:
        clock.advance(gap / 1000)
        cushion.on_arrival(20.0)


def test_audio_on_time_keeps_the_smallest_cushion() -> None:
    clock = VirtualClock()
    cushion = PlayoutCushion(clock=clock)
    _arrive(cushion, clock, [20.0] * 100)
    assert cushion.target_ms() == MIN_CUSHION_MS


def test_a_late_chunk_raises_the_cushion_by_its_lateness() -> None:
    clock = VirtualClock()
    cushion = PlayoutCushion(clock=clock)
    _arrive(cushion, clock, [20.0, 20.0, 45.0, 0.0, 20.0])  # one chunk 25 ms late, then a catch-up
    assert cushion.target_ms() == pytest.approx(25.0 + CUSHION_MARGIN_MS - 0.02 * 5.0)


def test_the_cushion_never_exceeds_the_maximum_and_decays_back() -> None:
    clock = VirtualClock()
    cushion = PlayoutCushion(clock=clock)
    _arrive(cushion, clock, [20.0, 520.0])  # a 500 ms stall
    assert cushion.target_ms() == MAX_CUSHION_MS
    clock.advance(1.0)
    # peak 500 ms decays 5 ms/s: still above the maximum after a second
    assert cushion.target_ms() == MAX_CUSHION_MS
    # the peak is forgotten at CUSHION_DECAY_MS_PER_S
    clock.advance(500.0 / CUSHION_DECAY_MS_PER_S)
    assert cushion.target_ms() == MIN_CUSHION_MS


def test_a_pause_of_a_second_or_more_is_a_restart_not_lateness() -> None:
    clock = VirtualClock()
    cushion = PlayoutCushion(clock=clock)
    _arrive(cushion, clock, [20.0, 1500.0, 20.0])  # the stream stopped and started again
    assert cushion.target_ms() == MIN_CUSHION_MS


def test_a_fixed_cushion_ignores_arrivals() -> None:
    clock = VirtualClock()
    cushion = PlayoutCushion(fixed_ms=60, clock=clock)
    _arrive(cushion, clock, [20.0, 200.0])
    assert cushion.target_ms() == 60
    assert PlayoutCushion(fixed_ms=0, clock=clock).target_ms() == 0


def test_a_negative_fixed_cushion_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^PlayoutCushion.fixed_ms: must be >= 0 ms, got -1$"):
        PlayoutCushion(fixed_ms=-1)
