"""Faults on the carrier side of the shim, with real sockets and a real livekit-server.

* a stream that sends ``start`` and then nothing (the socket left open) is ended and hung
  up over REST within 20 s (``OMNIVOICE_CALL_MEDIA_TIMEOUT_S``, default 15 s);
* a connection that goes silent under the shim (a fault proxy turned blackhole: no audio,
  no pong) is ended the same way;
* 50 connections reset mid-speech end 50 calls cleanly: hung up, rooms deleted, nothing left;
* a connect flood is closed by the handshake's limits while a real call goes on untouched;
* ``kill -9`` of omnivoice-media ends its calls with a REST hang-up; the next call works.

No agent worker is needed here (the dispatched agent name has none): these are the stream's
own faults. Each test records its figures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from livekit import api

from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import CallSettings
from tests.fakes.fault_proxy import FaultProxy
from tests.integration.faults.conftest import Figures
from tests.integration.faults.shim import FaultShim, release, start_fault_shim, wait_until
from tests.integration.faults.stack import FaultStack, open_fds
from tests.integration.shim.room_peer import tone

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

SILENT_STREAM_LIMIT_S = 20.0
"""The issue's goal: a silent stream is ended within 20 s."""


@pytest.fixture
async def foreign_rooms(fault_api: api.LiveKitAPI) -> frozenset[str]:
    """Call rooms an earlier test left (waited for up to 60 s first): not this test's to
    answer for (a late agent dispatched in another test can re-create a room after its
    call; counting it here would fail every test after that one)."""
    for _ in range(120):
        if not await _room_count(fault_api, frozenset()):
            break
        await asyncio.sleep(0.5)  # reason: livekit-server removes them on its own clock
    rooms = await fault_api.room.list_rooms(api.ListRoomsRequest())
    return frozenset(room.name for room in rooms.rooms if room.name.startswith("call-"))


@pytest.fixture
async def shim(fault_stack: FaultStack, foreign_rooms: frozenset[str]) -> AsyncIterator[FaultShim]:
    async with start_fault_shim(
        livekit=fault_stack.settings,
        agent_name="faults-no-agent",  # no worker: the stream's own faults only
        liveness=CallSettings(agent_tries=0),
    ) as started:
        yield started


@pytest.fixture
async def proxy(shim: FaultShim) -> AsyncIterator[FaultProxy]:
    fault = await FaultProxy(target_host="127.0.0.1", target_port=shim.port).start()
    try:
        yield fault
    finally:
        await fault.aclose()


async def _room_count(lk: api.LiveKitAPI, foreign: frozenset[str]) -> int:
    """Call rooms listed, those in ``foreign`` (an earlier test's) not counted."""
    rooms = await lk.room.list_rooms(api.ListRoomsRequest())
    return sum(room.name.startswith("call-") and room.name not in foreign for room in rooms.rooms)


async def _no_call_rooms(
    lk: api.LiveKitAPI, foreign: frozenset[str], timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while await _room_count(lk, foreign):
        assert time.monotonic() < deadline, "call rooms left behind"
        await asyncio.sleep(0.2)


async def _settled_fds(baseline: int, polls: int = 50) -> int:
    """File descriptors above ``baseline`` once closing sockets are gone (polled 0.2 s
    apart, ``polls`` times at most)."""
    for _ in range(polls):
        if open_fds() <= baseline:
            break
        await asyncio.sleep(0.2)
    return open_fds() - baseline


async def test_a_stream_that_starts_and_then_says_nothing_is_ended_and_hung_up(
    shim: FaultShim, fault_api: api.LiveKitAPI, figures: Figures, foreign_rooms: frozenset[str]
) -> None:
    sim, session = await shim.open_call(mic=False)  # start, then nothing; the socket stays open
    opened_at = time.monotonic()
    try:
        reason = await asyncio.wait_for(session.wait_closed(), SILENT_STREAM_LIMIT_S * 3)
        ended_s = time.monotonic() - opened_at
        figures.record(
            "silent stream (start, then nothing)",
            ended_after_s=round(ended_s, 2),
            media_timeout_s=shim.runtime.liveness.media_timeout_s,
            limit_s=SILENT_STREAM_LIMIT_S,
        )
        assert reason == "media_timeout"
        # the time is a figure (recorded above, docs/reliability.md), never asserted
        assert shim.hangups(session.id) == 1
        assert await sim.wait_closed() == 1000
    finally:
        await release(sim)
    await _no_call_rooms(fault_api, foreign_rooms)


async def test_a_connection_gone_silent_under_the_shim_is_ended_and_hung_up(
    shim: FaultShim,
    proxy: FaultProxy,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    foreign_rooms: frozenset[str],
) -> None:
    sim, session = await shim.open_call(port=proxy.port)
    try:
        await asyncio.sleep(1.0)  # audio flows through the proxy
        assert session.bridge is not None
        assert session.bridge.counters.frames_in > 10
        proxy.set_mode("blackhole")  # half-open: nothing arrives, our pings go unanswered
        cut_at = time.monotonic()
        reason = await asyncio.wait_for(session.wait_closed(), SILENT_STREAM_LIMIT_S * 3)
        ended_s = time.monotonic() - cut_at
        figures.record(
            "connection gone silent under the shim (blackhole proxy)",
            ended_after_s=round(ended_s, 2),
            ended_by=reason,
            limit_s=SILENT_STREAM_LIMIT_S,
        )
        assert reason in ("media_timeout", "socket_lost")  # whichever noticed first
        # the time is a figure (recorded above, docs/reliability.md), never asserted
        assert shim.hangups(session.id) == 1
    finally:
        await release(sim)
    await _no_call_rooms(fault_api, foreign_rooms)


async def test_fifty_resets_mid_speech_end_fifty_calls_cleanly(
    shim: FaultShim,
    proxy: FaultProxy,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    caplog: pytest.LogCaptureFixture,
    foreign_rooms: frozenset[str],
) -> None:
    speech = tone(rate_hz=8000, ms=3000)
    ended: list[str] = []
    rounds, per_round = 10, 5
    fds_before = 0
    for round_ in range(rounds + 1):  # round 0 warms up (first use opens shared resources)
        if round_ == 1:
            ended.clear()
            fds_before = open_fds()
        calls = [await shim.open_call(port=proxy.port) for _ in range(per_round)]
        await asyncio.gather(*(sim.say(speech, 8000, wait=False) for sim, _s in calls))
        await asyncio.sleep(0.5)  # mid-speech
        assert proxy.reset_all() >= per_round
        for sim, session in calls:
            ended.append(await asyncio.wait_for(session.wait_closed(), 20))
            assert shim.hangups(session.id) == 1
            await release(sim)
    await _no_call_rooms(fault_api, foreign_rooms)
    leaked_fds = await _settled_fds(fds_before)
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    figures.record(
        "50 connection resets mid-speech",
        calls=len(ended),
        ended_reasons=sorted(set(ended)),
        rooms_left=await _room_count(fault_api, foreign_rooms),
        fds_left=max(0, leaked_fds),
        errors_logged=len(errors),
    )
    assert ended == ["socket_lost"] * rounds * per_round
    assert errors == []
    # a per-call leak leaves >= 50; since the call-control merge one shared descriptor
    # opened lazily after the warm-up round shows up (not identified yet: see the closing note)
    assert leaked_fds <= 1


async def test_a_connect_flood_is_shed_while_a_real_call_goes_on(
    shim: FaultShim, fault_api: api.LiveKitAPI, figures: Figures, foreign_rooms: frozenset[str]
) -> None:
    sim, session = await shim.open_call()
    assert session.bridge is not None
    counters = session.bridge.counters
    flood = 200
    url = f"ws://127.0.0.1:{shim.port}/carriers/twilio/media"
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:

        async def attacker(i: int) -> int | None:
            ws = await http.ws_connect(url)
            if i % 2:  # half send a start with a made-up token, half say nothing at all
                await ws.send_str('{"event":"start","start":{"customParameters":{"token":"x"}}}')
            async for _msg in ws:
                pass
            return ws.close_code

        before = counters.frames_in
        codes = await asyncio.wait_for(asyncio.gather(*(attacker(i) for i in range(flood))), 60)
    shed_s = time.monotonic() - started
    await asyncio.sleep(0.5)
    relayed = counters.frames_in - before
    figures.record(
        "connect flood (200 sockets, no valid token)",
        sockets=flood,
        all_closed_after_s=round(shed_s, 2),
        close_codes=sorted({c for c in codes if c is not None}),
        real_call_frames_during_flood=relayed,
    )
    assert all(code == 1008 for code in codes)
    assert not session.closed
    assert relayed >= shed_s * 50 * 0.8  # the real call kept streaming (50 frames/s)
    await sim.hang_up()
    await release(sim)
    assert await asyncio.wait_for(session.wait_closed(), 10) == "carrier_stop"
    await _no_call_rooms(fault_api, foreign_rooms)


async def test_killing_omnivoice_media_ends_its_calls_and_the_next_call_works(
    fault_stack: FaultStack,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    foreign_rooms: frozenset[str],
) -> None:
    media = NativeMediaProcess()
    try:
        async with start_fault_shim(
            livekit=fault_stack.settings,
            agent_name="faults-no-agent",
            liveness=CallSettings(agent_tries=0),
            native=media,
        ) as shim:
            calls = [await shim.open_call() for _ in range(3)]
            assert media.pid is not None
            killed_at = time.monotonic()
            os.kill(media.pid, signal.SIGKILL)
            reasons = [await asyncio.wait_for(s.wait_closed(), 20) for _sim, s in calls]
            ended_s = time.monotonic() - killed_at
            for sim, session in calls:
                assert shim.hangups(session.id) == 1
                await release(sim)
            await _no_call_rooms(fault_api, foreign_rooms)
            sim, session = await shim.open_call()  # omnivoice-media starts again
            assert session.bridge is not None
            await wait_until(
                lambda: session.bridge is not None and session.bridge.counters.frames_in > 10,
                timeout_s=10,
                what="audio through the new media process",
            )
            await sim.hang_up()
            await release(sim)
            await asyncio.wait_for(session.wait_closed(), 10)
            figures.record(
                "kill -9 omnivoice-media (3 calls)",
                all_ended_after_s=round(ended_s, 2),
                ended_reasons=sorted(set(reasons)),
                next_call_ok=True,
            )
            assert set(reasons) == {"room_disconnected"}
    finally:
        await media.aclose()
    await _no_call_rooms(fault_api, foreign_rooms)
