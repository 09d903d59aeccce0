"""Churn: many short calls, each with a real agent, then count what is left behind.

CI runs a short variant (20 calls); ``make soak`` runs 1,000 calls per media backend and a
30-minute soak that records the shim process's resident memory. Goal: rooms, participants,
processes and file descriptors left after the churn: 0; memory growth within noise.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable

import pytest
from livekit import api

from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import CallSettings
from tests.integration.faults.conftest import Figures
from tests.integration.faults.shim import FaultShim, release, start_fault_shim, wait_until
from tests.integration.faults.stack import FaultStack, WorkerHandle, descendants, open_fds, rss_kib

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(params=["native", "rtc"])
async def shim(
    request: pytest.FixtureRequest, fault_stack: FaultStack, fault_worker: WorkerHandle
) -> AsyncIterator[FaultShim]:
    worker = fault_worker.ensure()
    media = NativeMediaProcess() if request.param == "native" else None
    try:
        async with start_fault_shim(
            livekit=fault_stack.settings,
            agent_name=worker.agent_name,
            liveness=CallSettings(),
            native=media,
        ) as started:
            yield started
    finally:
        if media is not None:
            await media.aclose()


SETUP_FAILED = "setup_failed"
"""A call whose room join failed (it was ended and hung up; counted, never left behind)."""


async def _short_call(shim: FaultShim, talk_s: float) -> str:
    try:
        sim, session = await shim.open_call()
    except TimeoutError:  # open_call hung up and closed the call that never relayed
        return SETUP_FAILED
    try:
        assert session.bridge is not None
        room = session.bridge.room
        await wait_until(lambda: bool(room.agent_identity), timeout_s=60, what="the agent")
        await asyncio.sleep(talk_s)
        await sim.hang_up()
        return await asyncio.wait_for(session.wait_closed(), 30)
    finally:
        await release(sim)


async def _leftovers(lk: api.LiveKitAPI, *, timeout_s: float = 60.0) -> tuple[int, int]:
    """(call rooms, participants in them) once they are gone, or what is left after the wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        rooms = [
            r
            for r in (await lk.room.list_rooms(api.ListRoomsRequest())).rooms
            if r.name.startswith("call-")
        ]
        participants = sum(r.num_participants for r in rooms)
        if not rooms or time.monotonic() > deadline:
            return len(rooms), participants
        await asyncio.sleep(0.5)


async def _settled(count: Callable[[], int], baseline: int, *, polls: int = 100) -> int:
    """``count() - baseline`` once it is back to ``baseline`` (polled 0.2 s apart), or after
    ``polls`` polls."""
    for _ in range(polls):
        if count() <= baseline:
            break
        await asyncio.sleep(0.2)
    return count() - baseline


async def _churn(
    shim: FaultShim,
    fault_worker: WorkerHandle,
    lk: api.LiveKitAPI,
    *,
    calls: int,
    at_once: int,
    talk_s: float,
) -> dict[str, object]:
    worker = fault_worker.ensure()
    # warm-up round: primes the worker's process pool. A call lost here is not what this
    # test measures (seen once in a full run: the worker, starved by the previous test's
    # kills, lost its connection to livekit-server for 2 s and the call got the apology
    # and a hang-up); it is counted, and its room must be gone like any other.
    warm_up = await asyncio.gather(
        *(_short_call(shim, talk_s) for _ in range(at_once)), return_exceptions=True
    )
    warm_up_lost = [r for r in warm_up if isinstance(r, BaseException)]
    for lost in warm_up_lost:
        if not isinstance(lost, AssertionError):
            raise lost
    await _leftovers(lk)
    fds_before = open_fds()
    procs_before = len(descendants(worker.process.pid))
    reasons: list[str] = []
    started = time.monotonic()
    for _ in range(calls // at_once):
        reasons += await asyncio.gather(*(_short_call(shim, talk_s) for _ in range(at_once)))
    rooms_left, participants_left = await _leftovers(lk)
    fds_left = await _settled(open_fds, fds_before)
    procs_left = await _settled(lambda: len(descendants(worker.process.pid)), procs_before)
    return {
        "calls": len(reasons),
        "setup_failed": reasons.count(SETUP_FAILED),
        "ended_reasons": sorted(set(reasons) - {SETUP_FAILED}),
        "rooms_left": rooms_left,
        "participants_left": participants_left,
        "agent_processes_left": max(0, procs_left),
        "fds_left": max(0, fds_left),
        "churn_s": round(time.monotonic() - started, 1),
        "warm_up_lost": len(warm_up_lost),
    }


def _check(found: dict[str, object], *, setup_failures_allowed: int = 0) -> None:
    """Every call ended by the caller's stop and nothing left behind; a soak run may lose
    ``setup_failures_allowed`` joins to the loaded box (seen once in 1,000 on 2 cores:
    livekit's "track publication timed out"), which must end cleanly too."""
    setup_failed = found["setup_failed"]
    assert isinstance(setup_failed, int)
    assert setup_failed <= setup_failures_allowed
    assert found["ended_reasons"] == ["carrier_stop"]
    assert (found["rooms_left"], found["participants_left"]) == (0, 0)
    assert found["agent_processes_left"] == 0
    assert found["fds_left"] == 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("shim", ["native"], indirect=True)
async def test_churn_of_short_calls_leaves_nothing_behind(
    shim: FaultShim, fault_worker: WorkerHandle, fault_api: api.LiveKitAPI, figures: Figures
) -> None:
    found = await _churn(shim, fault_worker, fault_api, calls=20, at_once=5, talk_s=0.5)
    figures.record("churn of 20 short calls (native, CI)", **found)
    _check(found)


@pytest.mark.soak
@pytest.mark.timeout(7200)
async def test_churn_of_a_thousand_short_calls_leaves_nothing_behind(
    shim: FaultShim,
    fault_worker: WorkerHandle,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    request: pytest.FixtureRequest,
) -> None:
    backend = request.node.callspec.params["shim"]
    found = await _churn(shim, fault_worker, fault_api, calls=1000, at_once=10, talk_s=0.5)
    figures.record(f"churn of 1,000 short calls ({backend}, soak)", **found)
    _check(found, setup_failures_allowed=5)  # 0.5 %


@pytest.mark.soak
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("shim", ["native"], indirect=True)
async def test_thirty_minutes_of_calls_keep_memory_flat(
    shim: FaultShim, fault_worker: WorkerHandle, fault_api: api.LiveKitAPI, figures: Figures
) -> None:
    minutes = 30
    samples: list[int] = []
    deadline = time.monotonic() + minutes * 60
    next_sample = time.monotonic()
    calls = 0
    while time.monotonic() < deadline:
        await asyncio.gather(*(_short_call(shim, 5.0) for _ in range(5)))
        calls += 5
        if time.monotonic() >= next_sample:
            samples.append(rss_kib())
            next_sample += 60
    early = statistics.median(samples[2:7])  # minutes 2-6: after warm-up
    late = statistics.median(samples[-5:])
    growth = (late - early) / early
    figures.record(
        "30-minute soak: shim process RSS",
        calls=calls,
        rss_kib_per_minute=samples,
        rss_growth_pct=round(100 * growth, 1),
    )
    assert growth <= 0.10  # within noise: no per-call leak
    rooms_left, participants_left = await _leftovers(fault_api)
    assert (rooms_left, participants_left) == (0, 0)
