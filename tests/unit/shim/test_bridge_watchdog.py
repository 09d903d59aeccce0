"""A bridged call's watchdog in memory (:mod:`omnivoice_rtc.shim.bridge_watchdog`): the
media-inactivity timeout, a dead agent replaced by a fresh one with the transcript, the
apology once no tries are left. Same harness as test_call_bridge.py (FakeMediaSocket,
FakeCallRoom); time is a SleepingClock the test advances, so nothing here sleeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from omnivoice_rtc.audio.g711 import ulaw_decode
from omnivoice_rtc.calls.apology import apology_ms
from omnivoice_rtc.media_streams.messages import Clear, Media, SendMedia
from omnivoice_rtc.settings import CallSettings
from omnivoice_rtc.types import Event, EventType, Turn
from tests.unit.shim.test_bridge_liveness import _joined
from tests.unit.shim.test_call_bridge import MULAW_20MS, Call, settle, until

pytestmark = pytest.mark.unit


async def _advance(c: Call, seconds: float, *, step_s: float = 0.1) -> None:
    """Move time forward in steps, letting the bridge act after each."""
    for _ in range(round(seconds / step_s)):
        c.clock.advance(step_s)
        await settle(5)


async def _advance_until_done(c: Call, *, limit_s: float, step_s: float = 0.1) -> str:
    for _ in range(round(limit_s / step_s)):
        if c.run.done():
            break
        c.clock.advance(step_s)
        await settle(5)
    return await c.finished()


# --------------------------------------------------------------------------- media timeout


async def test_a_stream_that_sends_no_audio_is_ended_and_hung_up_over_rest() -> None:
    c = await _joined(CallSettings(media_timeout_s=15))
    c.send(Media(payload=MULAW_20MS))
    await until(lambda: c.bridge.counters.frames_in == 1)
    await _advance(c, 14.5)
    assert not c.run.done()  # 14.5 s of silence: still up
    assert await _advance_until_done(c, limit_s=2) == "media_timeout"
    assert c.hangups == ["rest"]
    assert (c.ws.close_code, c.ws.closed_by) == (1000, "shim")
    assert c.closed_reasons == ["media_timeout"]
    assert [what for _t, what in c.bridge.liveness_log] == ["media_timeout"]
    (at, _what) = c.bridge.liveness_log[0]
    assert 15 <= at - c.bridge.started_at <= 16  # within a check period of the timeout


async def test_audio_keeps_the_call_up_and_no_timeout_means_none() -> None:
    c = await _joined(CallSettings(media_timeout_s=15))
    for _ in range(6):  # a frame every 5 s for 30 s
        await _advance(c, 5)
        c.send(Media(payload=MULAW_20MS))
        await settle()
    assert not c.run.done()
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"

    off = await _joined(CallSettings(media_timeout_s=0))
    await _advance(off, 60, step_s=1)
    assert not off.run.done()
    off.ws.feed_close()
    assert await off.finished() == "carrier_hangup"


# --------------------------------------------------------------------------- agent recovery


def _turns() -> list[Turn]:
    at = datetime(2025, 1, 2, tzinfo=UTC)
    return [
        Turn(role="user", text="my order", timestamp=at),
        Turn(role="agent", text="ok", timestamp=at),
    ]


async def test_a_dead_agent_is_replaced_by_a_fresh_one_with_the_transcript() -> None:
    c = await _joined(CallSettings(agent_tries=2))
    replaced: list[bool] = []
    c.bridge.hooks.transcript = _turns
    c.bridge.hooks.on_agent_replaced = lambda: replaced.append(True)
    c.room.agent_stops_answering()
    await until(lambda: len(c.room.dispatches) == 1)
    resume = json.loads(c.room.dispatches[0])["omnivoice"]["resume"]["transcript"]
    assert [Turn.from_dict(t) for t in resume] == _turns()
    await until(lambda: c.room.removed == ["agent-1"])  # the zombie is removed
    assert replaced == [True]
    assert [w for _t, w in c.bridge.liveness_log] == [
        "agent_lost:agent_unresponsive",
        "agent_dispatched:1",
    ]
    # the fresh agent joins; the call goes on and its audio reaches the caller
    c.room.agent_joins(identity="agent-2")
    assert c.room.agent_identity == "agent-2"
    c.room.agent_speaks(np.full(160, 3000, dtype="<i2").tobytes())
    await until(lambda: any(isinstance(m, SendMedia) for m in c.sent()))
    assert not c.run.done()
    assert c.hangups == []
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"


async def test_an_agent_leaving_without_ending_its_session_is_replaced() -> None:
    c = await _joined(CallSettings(agent_tries=1))
    c.room.agent_leaves()
    await until(lambda: len(c.room.dispatches) == 1)
    assert c.bridge.liveness_log[0][1] == "agent_lost:agent_left"
    c.ws.feed_close()
    await c.finished()


async def test_a_session_that_ended_with_an_error_is_a_loss_too() -> None:
    c = await _joined(CallSettings(agent_tries=1))
    c.room.agent_event(Event(type=EventType.SESSION_ENDED, error="llm failed"))
    c.room.agent_leaves()
    await until(lambda: len(c.room.dispatches) == 1)
    c.ws.feed_close()
    await c.finished()


def _apology_frames(c: Call) -> list[bytes]:
    return [m.payload for m in c.sent() if isinstance(m, SendMedia)]


async def test_no_tries_left_the_caller_hears_the_apology_then_a_rest_hang_up() -> None:
    c = await _joined(CallSettings(agent_tries=1))
    c.room.agent_stops_answering()
    await until(lambda: len(c.room.dispatches) == 1)
    c.room.agent_never_joins()  # the fresh agent does not come: no tries left
    await until(lambda: any(w == "apology_started" for _t, w in c.bridge.liveness_log))
    c.room.agent_speaks(np.full(160, 3000, dtype="<i2").tobytes())  # a zombie's audio: dropped
    reason = await _advance_until_done(c, limit_s=10, step_s=0.05)
    assert reason == "agent_lost"
    assert c.hangups == ["rest"]
    assert (c.ws.close_code, c.ws.closed_by) == (1000, "shim")
    assert [w for _t, w in c.bridge.liveness_log] == [
        "agent_lost:agent_unresponsive",
        "agent_dispatched:1",
        "agent_lost:agent_never_joined",
        "apology_started",
        "apology_done",
    ]
    sent = c.sent()
    first_media = next(i for i, m in enumerate(sent) if isinstance(m, SendMedia))
    assert any(isinstance(m, Clear) for m in sent[:first_media])  # the agent's tail cleared first
    frames = _apology_frames(c)
    assert abs(len(frames) * 20 - apology_ms()) <= 20  # the whole apology, nothing else
    pcm = np.frombuffer(ulaw_decode(b"".join(frames)), dtype="<i2").astype(np.float64)
    assert float(np.sqrt(np.mean(pcm**2))) > 500  # audible speech
    times = dict((w, t) for t, w in c.bridge.liveness_log)
    played_s = times["apology_done"] - times["apology_started"]
    assert played_s >= apology_ms() / 1000  # paced at real time: the hang-up cuts nothing


async def test_with_no_tries_at_all_the_first_loss_apologizes() -> None:
    c = await _joined(CallSettings(agent_tries=0))
    c.room.agent_leaves()
    assert await _advance_until_done(c, limit_s=10, step_s=0.05) == "agent_lost"
    assert c.room.dispatches == []
    assert len(_apology_frames(c)) > 0


async def test_a_failed_dispatch_counts_as_a_try() -> None:
    c = await _joined(CallSettings(agent_tries=2))
    c.room.dispatch_error = ConnectionRefusedError("server down")
    c.room.agent_stops_answering()
    assert await _advance_until_done(c, limit_s=10, step_s=0.05) == "agent_lost"
    assert [w for _t, w in c.bridge.liveness_log][:4] == [
        "agent_lost:agent_unresponsive",
        "dispatch_failed",
        "dispatch_failed",
        "apology_started",
    ]


async def test_a_carrier_hang_up_during_the_apology_ends_it_at_once() -> None:
    c = await _joined(CallSettings(agent_tries=0))
    c.room.agent_leaves()
    await until(lambda: any(w == "apology_started" for _t, w in c.bridge.liveness_log))
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"
    assert c.hangups == []
