"""The agent recovery of a call (stand-in RoomControl and announcer; the gateway itself
runs against livekit-sip in tests/e2e/sip and tests/integration/faults; its options are
tested in test_gateway_options.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import aiohttp
import pytest
from livekit import rtc

from omnivoice_rtc.calls.liveness import AgentRecovery
from omnivoice_rtc.livekit.rooms import RoomControlLease
from omnivoice_rtc.settings import CallSettings, LiveKitSettings
from omnivoice_rtc.sip import agent_recovery
from omnivoice_rtc.sip.gateway_options import SIPGatewayOptions
from omnivoice_rtc.sip.sip_gateway import SIPGateway
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.types import CallInfo, Event, EventType, UserTranscript

pytestmark = pytest.mark.unit


class _Rooms:
    """The RoomControl calls the gateway's agent recovery makes, recorded."""

    def __init__(self) -> None:
        self.dispatches: list[tuple[str, str, str]] = []
        self.removed: list[tuple[str, str]] = []
        self.deleted: list[str] = []
        self.fail_dispatch = False

    async def dispatch_agent(self, room: str, agent_name: str, *, metadata: str = "") -> None:
        if self.fail_dispatch:
            raise aiohttp.ClientConnectorError(None, OSError("refused"))  # type: ignore[arg-type]  # reason: no connection key needed
        self.dispatches.append((room, agent_name, metadata))

    async def remove_participant(self, room: str, identity: str) -> bool:
        self.removed.append((room, identity))
        return True

    async def delete_room(self, room: str) -> bool:
        await asyncio.sleep(0.05)  # a round trip: stop() must not cut it short
        self.deleted.append(room)
        return True


class _Lease:
    def __init__(self, rooms: _Rooms) -> None:
        self.rooms = rooms

    async def aclose(self) -> None:
        pass


async def _gateway_with_call(
    monkeypatch: pytest.MonkeyPatch, *, tries: int
) -> tuple[SIPGateway, SIPSession, _Rooms, list[str]]:
    announced: list[str] = []

    async def announce(**kwargs: Any) -> None:
        announced.append(kwargs["room"])

    monkeypatch.setattr(agent_recovery, "announce_in_room", announce)
    gateway = SIPGateway(
        livekit=LiveKitSettings(),
        options=SIPGatewayOptions(agent_name="agent-x", liveness=CallSettings(agent_tries=tries)),
    )
    rooms = _Rooms()
    gateway._lease = cast(RoomControlLease, _Lease(rooms))
    call = CallInfo(call_id="SCL_1", from_="+1", to="+2", direction="inbound")
    session = SIPSession(
        call=call,
        room_name="sip-e2e-1",
        identity="sip_1",
        hangup=gateway._hangup,
        liveness=CallSettings(agent_tries=tries),
        on_agent_gone=gateway._on_agent_gone,
    )
    gateway._sessions[session.id] = session
    gateway._recoveries[session.id] = AgentRecovery(tries=tries)
    session.agents.note("agent-AJ_1", {})
    return gateway, session, rooms, announced


async def _settled(gateway: SIPGateway) -> None:
    while gateway._tasks:
        await asyncio.wait(list(gateway._tasks), timeout=5)


async def test_a_dead_agent_gets_a_fresh_one_with_the_transcript(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, session, rooms, announced = await _gateway_with_call(monkeypatch, tries=1)
    session.on_event(
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi", final=True))
    )
    session.agents.gone("agent_unresponsive")
    await _settled(gateway)
    ((room, agent, metadata),) = rooms.dispatches
    assert (room, agent) == ("sip-e2e-1", "agent-x")
    transcript = json.loads(metadata)["omnivoice"]["resume"]["transcript"]
    assert [t["text"] for t in transcript] == ["hi"]
    assert rooms.removed == [("sip-e2e-1", "agent-AJ_1")]  # the zombie
    assert [w for _t, w in session.liveness_log] == [
        "agent_lost:agent_unresponsive",
        "agent_dispatched:1",
    ]
    assert announced == []
    assert not session.closed
    session.mark_closed("hangup")


async def test_no_tries_left_the_apology_plays_then_the_caller_is_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, session, rooms, announced = await _gateway_with_call(monkeypatch, tries=1)
    rooms.fail_dispatch = True  # the one try fails: no agent left
    session.agents.gone("agent_left")
    await _settled(gateway)
    assert announced == ["sip-e2e-1"]
    assert rooms.removed == [("sip-e2e-1", "sip_1")]  # livekit-sip sends BYE
    assert session.end_reason == "agent_lost"
    assert [w for _t, w in session.liveness_log] == [
        "agent_lost:agent_left",
        "dispatch_failed",
        "apology_started",
        "apology_done",
    ]


async def test_an_agent_that_ended_its_session_ends_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, session, rooms, announced = await _gateway_with_call(monkeypatch, tries=2)
    session.agents.session_ended()
    session.agents.participant_left("agent-AJ_1")
    await _settled(gateway)
    assert rooms.dispatches == []
    assert announced == []
    assert rooms.removed == [("sip-e2e-1", "sip_1")]
    assert session.end_reason == "session_closed"


async def test_an_ended_calls_room_is_deleted_again_while_it_is_still_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a room whose livekit-server node died stays listed: each scan deletes it again
    gateway, session, _rooms, _announced = await _gateway_with_call(monkeypatch, tries=1)
    ended = asyncio.ensure_future(gateway._end_when_closed(session))
    session.mark_closed("hangup")
    await asyncio.wait_for(ended, 5)
    assert "sip-e2e-1" in gateway.discovery._rejected
    assert session.id not in gateway._sessions


async def test_stopping_the_gateway_lets_an_ended_call_delete_its_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, session, rooms, _announced = await _gateway_with_call(monkeypatch, tries=1)
    gateway._spawn(gateway._end_when_closed(session))
    await asyncio.sleep(0)  # the task registers itself
    session.mark_closed("hangup")  # the caller hung up just before the gateway stops
    await gateway.stop()
    assert rooms.deleted == ["sip-e2e-1"]


class _ObserverRoom:
    """The observer's room connection: whether it was left."""

    def __init__(self) -> None:
        self.left = False

    async def disconnect(self) -> None:
        self.left = True


async def test_stopping_the_gateway_leaves_the_room_of_a_call_in_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the call goes on (another replica adopts it): its room stays, our observer leaves it
    gateway, session, rooms, _announced = await _gateway_with_call(monkeypatch, tries=1)
    room = _ObserverRoom()
    session._room = cast(rtc.Room, room)
    gateway._spawn(gateway._end_when_closed(session))
    await asyncio.sleep(0)  # the task registers itself and waits for the call's end
    await gateway.stop()
    assert room.left
    assert session.closed
    assert rooms.deleted == []
    assert gateway._sessions == {}


def test_liveness_options_are_checked() -> None:
    with pytest.raises(ValueError, match=r"^agent_join_timeout_s: must be > 0 s, got 0$"):
        SIPGatewayOptions(agent_join_timeout_s=0)


async def test_a_warm_transferred_call_gets_no_fresh_agent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a warm transfer the agent leaves on purpose: caller and human talk on."""
    gateway, session, rooms, announced = await _gateway_with_call(monkeypatch, tries=2)
    monkeypatch.setattr(SIPSession, "handed_over", property(lambda _self: True))
    session.agents.gone("agent_left")
    await _settled(gateway)
    assert (rooms.dispatches, rooms.removed, announced) == ([], [], [])
    assert not session.closed
    session.mark_closed("hangup")
