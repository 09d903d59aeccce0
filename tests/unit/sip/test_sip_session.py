"""SIPSession bookkeeping: CallInfo from sip.* attributes, events, transcript, close."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from livekit import rtc

from omnivoice_rtc import SessionClosedError, UnsupportedActionError
from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, encode_event
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.sip_session import SIPSession, call_info_from_attributes
from omnivoice_rtc.types import (
    AgentTranscript,
    CallInfo,
    Dtmf,
    Event,
    EventType,
    Metrics,
    SessionEnded,
    UserTranscript,
)

pytestmark = pytest.mark.unit

ATTRS = {
    "sip.callID": "SCL_abc",
    "sip.phoneNumber": "+15105550199",
    "sip.trunkPhoneNumber": "+15105550100",
    "sip.ruleID": "SDR_x",
    "omnivoice.carrier": "twilio",
}


def test_inbound_call_info() -> None:
    call = call_info_from_attributes(ATTRS, direction="inbound", fallback_id="PA_1")
    assert (call.call_id, call.from_, call.to) == ("SCL_abc", "+15105550199", "+15105550100")
    assert call.direction == "inbound"
    assert call.carrier == "twilio"
    assert call.attributes == ATTRS


def test_outbound_call_info_swaps_parties_and_defaults() -> None:
    attrs = {"sip.phoneNumber": "+15105550199", "sip.trunkPhoneNumber": "+15105550100"}
    call = call_info_from_attributes(attrs, direction="outbound", fallback_id="PA_1")
    assert (call.call_id, call.from_, call.to) == ("PA_1", "+15105550100", "+15105550199")
    assert call.carrier == "sip"


async def _hangup(session: SIPSession) -> None:
    session.mark_closed("session_closed")


def _session() -> SIPSession:
    call = CallInfo(call_id="SCL_abc", from_="+1", to="+2", direction="inbound")
    return SIPSession(call=call, room_name="r", identity="sip_1", hangup=_hangup)


async def test_events_transcript_and_final_report() -> None:
    session = _session()
    seen: list[Event] = []

    async def read() -> None:
        async for event in session.events():
            seen.append(event)

    reader = asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0)
    session.on_event(Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hello")))
    session.on_event(Event(type=EventType.AGENT_TRANSCRIPT, data=AgentTranscript(text="hi")))
    session.on_event(Event(type=EventType.DTMF, data=Dtmf(digit="5")))
    assert [(t.role, t.text) for t in session.transcript()] == [("user", "hello"), ("agent", "hi")]
    assert session.metrics().turn_count == 2
    report = Metrics(session_duration_ms=1234, turn_count=7)
    session.on_event(Event(type=EventType.SESSION_ENDED, data=SessionEnded(metrics=report)))
    assert session.metrics().turn_count == 7
    await session.close()
    await asyncio.wait_for(reader, 5)
    assert [e.type for e in seen] == [
        EventType.USER_TRANSCRIPT,
        EventType.AGENT_TRANSCRIPT,
        EventType.DTMF,
        EventType.SESSION_ENDED,
    ]
    assert session.closed
    assert await session.wait_closed() == "session_closed"
    # A late reader still gets the history, then the end.
    assert [e.type async for e in session.events()][-1] is EventType.SESSION_ENDED


async def test_closed_session_refuses_commands() -> None:
    session = _session()
    session.mark_closed("hangup")
    with pytest.raises(SessionClosedError, match=r"^session 'SCL_abc' is closed$"):
        await session.send_text("hi")
    with pytest.raises(SessionClosedError, match=r"^session 'SCL_abc' is closed$"):
        session.interrupt()


class _Participant:
    """What the observer's room hands its handlers: identity, kind, attributes."""

    def __init__(self, identity: str, kind: int) -> None:
        self.identity = identity
        self.kind = kind
        self.attributes: dict[str, str] = {}


def _participant(identity: str, kind: int) -> rtc.RemoteParticipant:
    return cast(rtc.RemoteParticipant, _Participant(identity, kind))


AGENT = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
SIP = rtc.ParticipantKind.PARTICIPANT_KIND_SIP


def _watched() -> tuple[SIPSession, list[str]]:
    gone: list[str] = []
    call = CallInfo(call_id="SCL_abc", from_="+1", to="+2", direction="inbound")
    session = SIPSession(
        call=call,
        room_name="sip-x",
        identity="sip_1",
        hangup=_hangup,
        on_agent_gone=lambda s, departure: gone.append(departure),
    )
    return session, gone


def _event_packet(event: Event, participant: str) -> rtc.DataPacket:
    payload = encode_event(event, participant=participant, session_id="s")
    return rtc.DataPacket(
        data=payload, kind=rtc.DataPacketKind.KIND_RELIABLE, participant=None, topic=EVENTS_TOPIC
    )


async def test_the_observer_follows_the_agent_and_reports_why_it_is_gone() -> None:
    session, gone = _watched()
    session._on_participant_joined(_participant("omnivoice-apology-sip_1", AGENT))  # ours
    session._on_participant_joined(_participant("sip_1", SIP))
    assert session.agents.identity == ""
    session._on_participant_joined(_participant("agent-AJ_1", AGENT))
    assert session.agents.identity == "agent-AJ_1"
    session._on_participant_left(_participant("agent-AJ_1", AGENT))  # no session_ended
    assert gone == ["agent_left"]

    ended, gone_ended = _watched()
    ended._on_participant_joined(_participant("agent-AJ_1", AGENT))
    ended._on_data(_event_packet(Event(type=EventType.SESSION_ENDED), "sip_1"))
    ended._on_participant_left(_participant("agent-AJ_1", AGENT))
    assert gone_ended == ["agent_ended"]


async def test_a_fresh_agent_replaces_the_dead_one_and_the_transcript_goes_on() -> None:
    session, gone = _watched()
    session._on_participant_joined(_participant("agent-AJ_1", AGENT))
    session.on_event(
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="one", final=True))
    )
    session.on_event(
        Event(type=EventType.SESSION_ENDED, error="crashed", data=SessionEnded(metrics=Metrics()))
    )
    assert session.expect_fresh_agent() == "agent-AJ_1"
    assert session.agents_replaced == 1
    session._on_participant_joined(_participant("agent-AJ_1", AGENT))  # the zombie: ignored
    assert session.agents.identity == ""
    session._on_participant_joined(_participant("agent-AJ_2", AGENT))
    session.on_event(
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="two", final=True))
    )
    assert [t.text for t in session.transcript()] == ["one", "two"]  # across both agents
    assert gone == []
    session.mark_closed("hangup")  # cancels the join watch


def test_the_sip_participant_leaving_ends_the_session_with_the_reason_set_first() -> None:
    session, _gone = _watched()
    session.end_reason = "agent_lost"  # we removed it after the apology
    session._on_participant_left(_participant("sip_1", SIP))
    assert session.end_reason == "agent_lost"

    bye, _ = _watched()
    bye._on_participant_left(_participant("sip_1", SIP))
    assert bye.end_reason == "hangup"


def test_a_reason_recorded_on_the_sip_participant_becomes_the_end_reason() -> None:
    """Call control (an agent's tool, the CLI) records why it hung up or transferred on the
    participant (omnivoice.end_reason) before removing it."""
    session, _gone = _watched()
    leaving = _Participant("sip_1", SIP)
    leaving.attributes["omnivoice.end_reason"] = "transferred"
    session._on_participant_left(cast(rtc.RemoteParticipant, leaving))
    assert session.end_reason == "transferred"


async def test_sip_capabilities_and_call_control_checks() -> None:
    async def hangup(s: SIPSession) -> None:  # as the gateway: the reason set first wins
        s.mark_closed(s.end_reason or "session_closed")

    call = CallInfo(call_id="SCL_abc", from_="+1", to="+2", direction="inbound")
    session = SIPSession(call=call, room_name="r", identity="sip_1", hangup=hangup)
    # given no LiveKit API: no transfer, with the reason
    caps = session.capabilities
    assert caps.route == "sip"
    assert caps.supported == {"hold", "resume", "dtmf", "hangup", "warm_transfer"}
    assert caps.unsupported["transfer"] == "this session was given no LiveKit API"
    with pytest.raises(ValueError, match=r"^warm transfer: summary must not be empty$"):
        await session.warm_transfer("+15550100", " ")
    with pytest.raises(SessionClosedError, match="not observing"):
        await session.warm_transfer("+15550100", "VIP caller")  # observe() never ran
    with pytest.raises(UnsupportedActionError, match="sip: transfer is not supported"):
        await session.transfer("+15550100")
    with pytest.raises(SessionClosedError, match="not observing"):
        await session.send_dtmf("1")  # observe() never ran
    with pytest.raises(ValueError, match="reason"):
        await session.hangup("not a reason")
    await session.hangup("caller_asked")
    assert session.end_reason == "caller_asked"
    with pytest.raises(SessionClosedError):
        await session.hold()


class _ObservedRoom:
    def __init__(self, *participants: _Participant) -> None:
        self.remote_participants = {p.identity: p for p in participants}


async def test_a_warm_transferred_call_ends_when_the_human_hangs_up() -> None:
    """The caller carries ``warm_transferred``: the session says it was handed over, and
    the human (``omnivoice.role=transfer-target``) leaving hangs up the caller with that
    reason; warm transfer itself is asked of the agent (``SIPSession.warm_transfer``)."""

    async def hangup(s: SIPSession) -> None:  # as the gateway: the reason set first wins
        s.mark_closed(s.end_reason or "session_closed")

    call = CallInfo(call_id="SCL_abc", from_="+1", to="+2", direction="inbound")
    session = SIPSession(call=call, room_name="r", identity="sip_1", hangup=hangup)
    assert session.capabilities.supports("warm_transfer")  # asked of the agent
    caller = _Participant("sip_1", SIP)
    human = _Participant("transfer-1", SIP)
    human.attributes["omnivoice.role"] = "transfer-target"
    session._room = cast(rtc.Room, _ObservedRoom(caller, human))
    assert not session.handed_over
    session._on_participant_left(cast(rtc.RemoteParticipant, human))
    assert not session.closed  # not handed over yet: a human leaving is nothing to us
    caller.attributes["omnivoice.end_reason"] = "warm_transferred"
    assert session.handed_over
    session._on_participant_left(cast(rtc.RemoteParticipant, human))
    assert await asyncio.wait_for(session.wait_closed(), 5) == "warm_transferred"


class _SlowRoom:
    """An ``rtc.Room`` whose connect waits for ``joined``; records whether it was left."""

    def __init__(self) -> None:
        self.joined = asyncio.Event()
        self.remote_participants: dict[str, rtc.RemoteParticipant] = {}
        self.left = False

    def on(self, event: str, callback: object) -> None:
        pass

    async def connect(self, url: str, token: str, options: rtc.RoomOptions) -> None:
        await self.joined.wait()

    async def disconnect(self) -> None:
        self.left = True


async def test_a_call_that_ends_while_its_observer_joins_does_not_keep_the_observer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = _SlowRoom()
    monkeypatch.setattr(rtc, "Room", lambda: room)
    session = _session()
    joining = asyncio.ensure_future(session.observe(livekit=LiveKitSettings(api_secret="s" * 32)))
    await asyncio.sleep(0)  # the observer is connecting
    await session.aclose()  # the call ended meanwhile (the gateway closes the session)
    room.joined.set()
    await asyncio.wait_for(joining, 5)
    assert room.left
    assert session._room is None
