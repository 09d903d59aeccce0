"""The injected clock: the real one is monotonic, the virtual one moves only by hand."""

from __future__ import annotations

import time

import pytest

from omnivoice_rtc._clock import MONOTONIC, Clock, VirtualClock

pytestmark = pytest.mark.unit


def test_the_real_clock_is_time_monotonic() -> None:
    assert MONOTONIC is time.monotonic
    first = MONOTONIC()
    assert MONOTONIC() >= first


def test_a_virtual_clock_moves_only_when_advanced() -> None:
    clock: Clock = VirtualClock(start_s=5.0)
    assert clock() == 5.0
    assert clock() == 5.0
    assert isinstance(clock, VirtualClock)
    clock.advance(0.25)
    assert clock() == 5.25


def test_many_small_steps_do_not_drift() -> None:
    clock = VirtualClock()
    start = clock()
    for _ in range(1000):
        clock.advance(0.020)
    assert clock() - start == 20.0


def test_a_virtual_clock_never_goes_back() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match=r"^VirtualClock.advance: seconds must be >= 0, got -1$"):
        clock.advance(-1)
