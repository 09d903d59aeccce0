"""The real-time budget that cuts streams running ahead of real time."""

from __future__ import annotations

import pytest

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.shim.policy import CallCounters, RealTimeBudget

pytestmark = pytest.mark.unit


def test_real_time_stream_always_passes() -> None:
    clock = VirtualClock()
    budget = RealTimeBudget(burst_ms=100, clock=clock)
    for _ in range(1000):
        clock.advance(0.020)
        assert budget.take(20)


def test_burst_beyond_the_allowance_is_cut_then_recovers() -> None:
    clock = VirtualClock()
    budget = RealTimeBudget(burst_ms=100, clock=clock)
    passed = [budget.take(20) for _ in range(10)]  # 200 ms at one instant
    assert passed == [True] * 5 + [False] * 5
    clock.advance(0.040)
    assert budget.take(20)
    assert budget.take(20)
    assert not budget.take(20)


def test_budget_needs_a_positive_burst() -> None:
    with pytest.raises(ValueError, match=r"RealTimeBudget.burst_ms: must be > 0 ms, got 0"):
        RealTimeBudget(burst_ms=0)


def test_counters_as_dict() -> None:
    counters = CallCounters(frames_in=3, dropped_too_fast=1)
    assert counters.as_dict()["frames_in"] == 3
    assert counters.as_dict()["dropped_too_fast"] == 1
