"""A bridged call's time-driven helpers and teardown in memory: the media watch
(``watch_media``), the apology's pacing (``announce``), and teardown that finishes whatever
its steps do. Same harness as test_call_bridge.py (FakeMediaSocket, FakeCallRoom); time is
a SleepingClock the test advances, so nothing here sleeps. What the bridge does when the
call stops being alive (media timeout, a lost agent): test_bridge_watchdog.py."""

from __future__ import annotations

import asyncio
import logging

import pytest

from omnivoice_rtc.settings import CallSettings
from omnivoice_rtc.shim.bridge_liveness import BridgeTiming, announce, watch_media
from tests.fakes.virtual_time import SleepingClock
from tests.unit.shim.test_call_bridge import Call, _make_call, settle

pytestmark = pytest.mark.unit


async def _joined(liveness: CallSettings | None = None, *, hangup: bool = True) -> Call:
    c = _make_call(liveness=liveness, hangup=hangup)
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    c.room.agent_joins(state="listening")
    return c


# --------------------------------------------------------------------------- media watch


async def test_the_media_watch_function_returns_the_idle_time() -> None:
    clock = SleepingClock()
    last = clock()
    timing = BridgeTiming(liveness=CallSettings(media_timeout_s=2), clock=clock, sleep=clock.sleep)
    watch = asyncio.ensure_future(watch_media(last_media_at=lambda: last, timing=timing))
    for _ in range(4):
        await settle(5)
        clock.advance(0.5)
    await settle(5)
    assert await asyncio.wait_for(watch, 1) == 2.0


async def test_announce_paces_at_real_time_a_little_ahead() -> None:
    clock = SleepingClock()
    timing = BridgeTiming(clock=clock, sleep=clock.sleep)
    pushed: list[tuple[float, int]] = []
    pcm = bytes(8000 * 2)  # 1 s at 8 kHz
    play = asyncio.ensure_future(
        announce(
            pcm,
            rate_hz=8000,
            push=lambda b: pushed.append((clock(), len(b))),
            stopped=lambda: False,
            timing=timing,
        )
    )
    start = clock()
    while not play.done():
        await settle(5)
        clock.advance(0.01)
    assert sum(n for _t, n in pushed) == len(pcm)
    assert {n for _t, n in pushed} == {320}
    for i, (at, _n) in enumerate(pushed):
        assert at - start >= i * 0.02 - 0.2 - 1e-6  # a piece starts <= 200 ms ahead
    assert clock() - start >= 1.0 + 0.3 - 0.01  # returns after it has played, plus the tail


# --------------------------------------------------------------------------- teardown


async def test_teardown_finishes_when_the_room_close_and_the_hook_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    c = await _joined()

    async def broken_close() -> None:
        raise ConnectionResetError("server gone")

    c.room.aclose = broken_close  # type: ignore[method-assign]  # reason: a room whose close fails

    def broken_hook(reason: str) -> None:
        raise RuntimeError("owner bug")

    c.bridge.hooks.on_closed = broken_hook
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"
    assert c.bridge.closed
    messages = [r.getMessage() for r in caplog.records]
    assert "call teardown step failed" in messages  # the room's failure, reported
    assert "call ended" in messages
    assert "call teardown hook failed" in messages


async def test_a_hang_up_that_hangs_is_cut_off_and_the_socket_still_closes() -> None:
    c = _make_call(liveness=CallSettings(teardown_step_s=0.05))
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)

    async def stuck() -> None:
        await asyncio.Event().wait()

    c.bridge.hooks.hangup = stuck
    await asyncio.wait_for(c.bridge.end("session_closed"), 5)
    assert (c.ws.close_code, c.ws.closed_by) == (1000, "shim")
    assert await c.finished() == "session_closed"
    assert c.room.aclose_calls == 1


async def test_a_socket_that_died_without_a_close_frame_is_hung_up_over_rest() -> None:
    c = await _joined()
    c.ws.feed_close(code=1006)  # reset, or no pong to the heartbeat (aiohttp: 1006)
    assert await c.finished() == "socket_lost"
    assert c.hangups == ["rest"]  # the carrier may still think the call is up

    clean = await _joined()
    clean.ws.feed_close()  # a close frame: the carrier hung up
    assert await clean.finished() == "carrier_hangup"
    assert clean.hangups == []
