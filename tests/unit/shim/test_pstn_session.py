"""PstnSession: transcript, metrics and event fan-out from the agent's events."""

from __future__ import annotations

import asyncio

import pytest

from omnivoice_rtc import SessionClosedError
from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, decode_control
from omnivoice_rtc.media_streams.messages import Clear
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.call_bridge import BridgeHooks, CallBridge
from omnivoice_rtc.shim.call_room import RoomCallbacks
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.types import (
    AgentTranscript,
    CallInfo,
    Dtmf,
    Event,
    EventType,
    Interruption,
    Metrics,
    SessionEnded,
    Turn,
    UserTranscript,
)
from tests.fakes.fake_call_room import FakeCallRoom
from tests.fakes.media_socket import FakeMediaSocket

pytestmark = pytest.mark.unit


def _session() -> PstnSession:
    return PstnSession(call=CallInfo(call_id="CA1", from_="+1555", to="+1666", carrier="twilio"))


def test_transcript_comes_from_final_transcript_events() -> None:
    session = _session()
    session.on_event(Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi")))
    session.on_event(
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="h", final=False))
    )
    session.on_event(Event(type=EventType.AGENT_TRANSCRIPT, data=AgentTranscript(text="hello")))
    session.on_event(Event(type=EventType.INTERRUPTION, data=Interruption(text="hello")))
    assert [(t.role, t.text) for t in session.transcript()] == [("user", "hi"), ("agent", "hello")]
    metrics = session.metrics()
    assert metrics.turn_count == 2
    assert metrics.interruption_count == 1


def test_session_ended_report_wins() -> None:
    session = _session()
    report = SessionEnded(
        reason="participant_disconnected",
        metrics=Metrics(turn_count=7),
        transcript=(Turn(role="user", text="pizza"),),
    )
    session.on_event(Event(type=EventType.SESSION_ENDED, data=report))
    assert session.metrics().turn_count == 7
    assert [t.text for t in session.transcript()] == ["pizza"]


async def test_events_replay_then_follow_and_end_with_the_call() -> None:
    session = _session()
    session.on_event(Event(type=EventType.SESSION_STARTED))
    seen: list[EventType] = []

    async def read() -> None:
        async for event in session.events():
            seen.append(event.type)

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)
    session.on_event(Event(type=EventType.DTMF, data=Dtmf(digit="5")))
    session.on_closed("carrier_stop")
    await asyncio.wait_for(reader, 1)
    assert seen == [EventType.SESSION_STARTED, EventType.DTMF]
    assert session.closed
    assert session.end_reason == "carrier_stop"
    assert session.id == "CA1"
    assert session.from_ == "+1555"
    assert session.duration.total_seconds() >= 0


async def test_commands_on_a_session_without_a_stream_raise() -> None:
    session = _session()
    with pytest.raises(SessionClosedError, match="session 'CA1' is closed"):
        session.interrupt()
    with pytest.raises(SessionClosedError):
        await session.send_text("hello")
    await session.close()  # nothing to hang up: no error


async def test_commands_go_through_the_bridge_and_close_hangs_up() -> None:
    """interrupt -> the carrier's clear + ``interrupt`` on omnivoice.control; send_text ->
    ``say``; events from the room reach the session; close -> the bridge's hang-up."""
    session = _session()
    ws, callbacks = FakeMediaSocket(), RoomCallbacks()
    room = FakeCallRoom(callbacks=callbacks)
    codec = TwilioCodec(stream_id="MZ1")
    bridge = CallBridge(
        ws=ws,
        codec=codec,
        call=session.call,
        inbound=InboundAudio(carrier_format=TWILIO, room_rate_hz=8000),
        outbound=OutboundAudio(carrier_format=TWILIO, room_rate_hz=8000),
        room=room,
        hooks=BridgeHooks(on_event=session.on_event, on_closed=session.on_closed),
    )
    bridge.wire(callbacks)
    session.attach(bridge)
    run = asyncio.ensure_future(bridge.run())
    await asyncio.wait_for(bridge.relaying.wait(), 5)
    room.agent_joins()
    room.agent_event(
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi", final=True))
    )
    assert [t.text for t in session.transcript()] == ["hi"]

    session.interrupt()
    await session.send_text("hello")
    await ws.wait_sent(1)
    for _ in range(100):  # event-loop turns for the spawned control commands
        if len(room.data) == 2:
            break
        await asyncio.sleep(0)
    assert [codec.parse_command(frame) for frame in ws.sent] == [Clear(stream_id="MZ1")]
    assert {topic for topic, _ in room.data} == {CONTROL_TOPIC}
    commands = sorted((decode_control(payload) for _, payload in room.data), key=str)
    assert commands == sorted(
        [ControlCommand(type="interrupt"), ControlCommand(type="say", text="hello")], key=str
    )

    await session.close()
    assert await asyncio.wait_for(run, 5) == "session_closed"
    assert session.closed
    assert session.end_reason == "session_closed"
    assert ws.close_code == 1000
    with pytest.raises(SessionClosedError):
        session.interrupt()
