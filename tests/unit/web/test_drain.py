"""Drain: stop taking calls, wait for the live ones up to the deadline, end the rest."""

from __future__ import annotations

import asyncio

import pytest

from omnivoice_rtc.web.drain import DRAIN_REASON, Drain, DrainTarget

pytestmark = pytest.mark.unit


class _Route:
    def __init__(self, live: int) -> None:
        self.live = live
        self.taking = True
        self.ended: list[str] = []

    def target(self) -> DrainTarget:
        async def end_calls(reason: str) -> None:
            self.ended.append(reason)
            self.live = 0

        def stop_taking() -> None:
            self.taking = False

        return DrainTarget(
            name="route", stop_taking=stop_taking, live_calls=lambda: self.live, end_calls=end_calls
        )


async def test_live_calls_that_end_by_themselves_are_not_cut() -> None:
    route = _Route(live=2)
    drain = Drain(drain_s=60)
    drain.track(route.target())
    assert not drain.draining
    assert route.taking
    running = asyncio.get_running_loop().create_task(drain.run())
    await asyncio.sleep(0)
    assert drain.draining
    assert not route.taking
    route.live = 1
    await asyncio.sleep(0.3)
    assert not running.done()
    route.live = 0
    report = await asyncio.wait_for(running, 5)
    assert route.ended == []
    assert (report.live_at_start, report.ended_by_themselves, report.ended_at_deadline) == (
        2,
        2,
        0,
    )


async def test_calls_live_at_the_deadline_are_ended() -> None:
    route = _Route(live=3)
    drain = Drain(drain_s=0)
    drain.track(route.target())
    report = await drain.run()
    assert route.ended == [DRAIN_REASON]
    assert (report.live_at_start, report.ended_at_deadline) == (3, 3)


async def test_a_second_signal_ends_the_wait() -> None:
    route = _Route(live=1)
    drain = Drain(drain_s=3600)
    drain.track(route.target())
    running = asyncio.get_running_loop().create_task(drain.run())
    await asyncio.sleep(0)
    drain.hurry()
    report = await asyncio.wait_for(running, 5)
    assert route.ended == [DRAIN_REASON]
    assert report.ended_at_deadline == 1


def test_a_route_installed_while_draining_takes_no_calls() -> None:
    drain = Drain(drain_s=1)
    drain.begin()
    route = _Route(live=0)
    drain.track(route.target())
    assert not route.taking


def test_a_negative_drain_time_is_refused() -> None:
    with pytest.raises(ValueError, match=r"drain_s: must be >= 0 s"):
        Drain(drain_s=-1)
