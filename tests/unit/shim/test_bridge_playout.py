"""A bridged call's agent -> caller half in memory (:mod:`omnivoice_rtc.shim.bridge_playout`):
agent audio in carrier frames, barge-in flushes, marks, in-band digits, mouth-to-ear
latency. Same harness as test_call_bridge.py (FakeMediaSocket, FakeCallRoom, VirtualClock).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from omnivoice_rtc.audio.dtmf import detect_dtmf
from omnivoice_rtc.audio.g711 import ulaw_decode
from omnivoice_rtc.media_streams.messages import (
    Mark,
    Media,
    SendMark,
    SendMedia,
)
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.types import Event, EventType
from tests.unit.shim import test_call_bridge
from tests.unit.shim.test_call_bridge import (
    Call,
    _agent_pcm,
    _make_call,
    settle,
    until,
)

call = test_call_bridge.call
"""The harness's pytest fixture (a call whose agent is in the room), used by parameter name."""

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- room -> caller


async def test_agent_audio_goes_out_in_20_ms_carrier_frames(call: Call) -> None:
    pcm = _agent_pcm(100)
    for i in range(5):
        call.room.agent_speaks(pcm[i * 320 : (i + 1) * 320])
    await until(lambda: len(call.media_out()) == 5)
    assert {len(payload) for payload in call.media_out()} == {160}  # 20 ms of μ-law
    decoded = np.frombuffer(ulaw_decode(b"".join(call.media_out())), dtype=np.int16)
    original = np.frombuffer(_agent_pcm(100), dtype=np.int16)
    assert np.max(np.abs(decoded.astype(int) - original.astype(int))) < 400
    counters = call.bridge.counters
    assert (counters.frames_out, counters.bytes_out) == (5, 800)


async def test_barge_in_flushes_once_and_stale_audio_is_dropped(call: Call) -> None:
    room, counters = call.room, call.bridge.counters
    room.set_agent_state("speaking")
    for _ in range(10):
        room.agent_speaks(_agent_pcm(20))
    await until(lambda: counters.frames_out == 10)
    room.agent_event(Event(type=EventType.USER_SPEECH_START))
    room.set_agent_state("listening")  # it stopped because the caller talked over it
    await until(lambda: call.clears_out() == 1)
    assert call.ws.sent[-1] == '{"event":"clear","streamSid":"MZ1"}'
    assert counters.flushes == 1
    assert call.bridge.last_flush_at == call.clock()

    room.agent_event(Event(type=EventType.INTERRUPTION))  # nothing sent since: no 2nd clear
    await settle()
    assert counters.flushes == 1
    assert [e.type for e in call.events] == [EventType.USER_SPEECH_START, EventType.INTERRUPTION]

    room.agent_speaks(_agent_pcm(20))  # the interrupted speech, still in flight: dropped
    await settle()
    assert counters.dropped_outbound == 1
    assert counters.frames_out == 10
    call.clock.advance(1.0)  # the stale window has passed
    room.agent_speaks(_agent_pcm(20))
    await until(lambda: counters.frames_out == 11)

    room.agent_event(Event(type=EventType.INTERRUPTION))  # audio went out since: flush
    await until(lambda: call.clears_out() == 2)
    assert counters.flushes == 2


async def test_the_agent_speaking_again_ends_the_stale_window(call: Call) -> None:
    counters = call.bridge.counters
    call.room.agent_speaks(_agent_pcm(20))
    await until(lambda: counters.frames_out == 1)
    await call.bridge.flush("session_interrupt")
    call.room.set_agent_state("speaking")
    call.room.agent_speaks(_agent_pcm(20))
    await until(lambda: counters.frames_out == 2)
    assert counters.dropped_outbound == 0


async def test_a_user_speech_start_while_listening_is_no_barge_in(call: Call) -> None:
    call.room.agent_speaks(_agent_pcm(20))
    await until(lambda: call.bridge.counters.frames_out == 1)
    call.room.agent_event(Event(type=EventType.USER_SPEECH_START))  # agent not speaking
    call.room.set_agent_state("speaking")
    call.room.set_agent_state("listening")
    await settle()
    assert call.clears_out() == 0


async def test_marks_go_out_every_interval_and_echoes_are_counted() -> None:
    c = _make_call(policy=MediaPolicy(mark_every_ms=100))
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    for _ in range(12):  # 240 ms: two marks
        c.room.agent_speaks(_agent_pcm(20))
    await until(lambda: len(c.marks_out()) == 2)
    await until(lambda: len(c.media_out()) == 12)
    kinds = [type(command) for command in c.sent()]
    assert kinds == [SendMedia] * 5 + [SendMark] + [SendMedia] * 5 + [SendMark] + [SendMedia] * 2
    assert c.marks_out() == ["ov-1", "ov-2"]
    c.send(Mark(name="ov-1"))
    c.send(Mark(name="not-ours"))
    await until(lambda: c.bridge.counters.marks_acked == 1)
    await settle()
    assert (c.bridge.counters.marks_sent, c.bridge.counters.marks_acked) == (2, 1)
    assert c.bridge.marks.outstanding == ("ov-2",)
    c.ws.feed_close()
    await c.finished()


async def test_agent_digits_reach_the_caller_as_in_band_tones(call: Call) -> None:
    call.room.agent_keys("4")
    call.room.agent_keys("2")
    call.room.agent_keys("Z")  # no tone for it: logged, not counted
    await until(lambda: call.bridge.counters.frames_out == 16)  # 2 x 160 ms
    assert call.bridge.counters.dtmf_out == 2
    mulaw = b"".join(call.media_out())
    assert detect_dtmf(ulaw_decode(mulaw), sample_rate_hz=8000) == "42"


async def test_session_flush_clears_the_carrier(call: Call) -> None:
    call.bridge.spawn(call.bridge.flush("session_interrupt"))
    await until(lambda: call.clears_out() == 1)
    assert call.bridge.counters.flushes == 1


async def test_a_flush_restarts_the_marker_interval() -> None:
    c = _make_call(policy=MediaPolicy(mark_every_ms=100))
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    for _ in range(4):  # 80 ms: no marker yet
        c.room.agent_speaks(_agent_pcm(20))
    await until(lambda: c.bridge.counters.frames_out == 4)
    await c.bridge.flush("session_interrupt")
    c.room.set_agent_state("speaking")  # new speech: no stale window
    for _ in range(4):  # 80 ms more: 160 ms in all, but 80 since the flush
        c.room.agent_speaks(_agent_pcm(20))
    await until(lambda: c.bridge.counters.frames_out == 8)
    await settle()
    assert c.marks_out() == []
    c.room.agent_speaks(_agent_pcm(20))
    await until(lambda: c.marks_out() == ["ov-1"])
    c.ws.feed_close()
    await c.finished()


async def test_a_replys_mouth_to_ear_latency_goes_to_the_agent(call: Call) -> None:
    """Caller speech, then the agent's reply: a marker follows the reply's first frame,
    and its echo becomes an ``omnivoice.latency`` report for the agent."""
    import json

    from omnivoice_rtc.audio.g711 import ulaw_encode
    from omnivoice_rtc.livekit.data_topics import LATENCY_TOPIC

    call.send(Media(payload=ulaw_encode(_agent_pcm(20))))  # the caller speaks
    await until(lambda: len(call.room.caller_audio) >= 1)
    call.clock.advance(0.6)
    call.room.agent_speaks(_agent_pcm(20))  # the reply's first frame
    await until(lambda: any(m.startswith("ov-m2e-") for m in call.marks_out()))
    kinds = [type(c) for c in call.sent()]
    assert kinds[-2:] == [SendMedia, SendMark]  # right after that frame
    [name] = [m for m in call.marks_out() if m.startswith("ov-m2e-")]
    call.clock.advance(0.1)
    call.send(Mark(name=name))  # the carrier played it
    await until(lambda: any(topic == LATENCY_TOPIC for topic, _ in call.room.data))
    [payload] = [p for topic, p in call.room.data if topic == LATENCY_TOPIC]
    assert json.loads(payload) == {"mouth_to_ear_ms": 680, "measured_by": "carrier"}


async def test_a_send_racing_the_carriers_close_is_not_an_error(call: Call) -> None:
    """aiohttp raises "Cannot write to closing transport" before ``closed`` is set: the
    send loop goes on (the read loop ends the call) instead of dying unretrieved."""
    call.ws.transport_closing = True
    call.room.agent_speaks(_agent_pcm(20))
    await settle()
    assert call.media_out() == []
    call.ws.transport_closing = False  # (a fake can come back; the loop is still there)
    call.room.agent_speaks(_agent_pcm(20))
    await until(lambda: len(call.media_out()) == 1)
