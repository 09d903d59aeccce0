"""Outbound dialling of the SIP gateway against a stand-in RoomControl (the real dial runs
against livekit-sip in tests/e2e/sip): the request livekit-server gets, the agent
dispatched only once answered, a failed or cancelled call leaving no room behind, and the
outbound trunk found by name or id."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from livekit import api

from omnivoice_rtc._errors import ConfigError, SIPCallError
from omnivoice_rtc.livekit.rooms import RoomControl
from omnivoice_rtc.sip.call_discovery import SIPCallDiscovery
from omnivoice_rtc.sip.gateway_options import SIPGatewayOptions
from omnivoice_rtc.sip.outbound_dial import dial_outbound, resolve_outbound_trunk

pytestmark = pytest.mark.unit


class _Sip:
    def __init__(self, steps: list[str], failure: BaseException | None) -> None:
        self.steps = steps
        self.failure = failure
        self.requests: list[api.CreateSIPParticipantRequest] = []

    async def create_sip_participant(self, request: api.CreateSIPParticipantRequest) -> None:
        self.steps.append("dial")
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure

    async def list_outbound_trunk(
        self, request: api.ListSIPOutboundTrunkRequest
    ) -> api.ListSIPOutboundTrunkResponse:
        return api.ListSIPOutboundTrunkResponse(
            items=[
                api.SIPOutboundTrunkInfo(sip_trunk_id="ST_a", name="twilio-outbound"),
                api.SIPOutboundTrunkInfo(sip_trunk_id="ST_b", name="telnyx-outbound"),
            ]
        )


class _Room:
    async def get_participant(self, request: api.RoomParticipantIdentity) -> api.ParticipantInfo:
        return api.ParticipantInfo(
            sid="PA_1",
            identity=request.identity,
            attributes={"sip.callID": "SCL_out", "sip.phoneNumber": "+15105550100"},
        )


class _Api:
    def __init__(self, steps: list[str], failure: BaseException | None) -> None:
        self.sip = _Sip(steps, failure)
        self.room = _Room()


class _Rooms:
    """The RoomControl calls dialling makes, in order."""

    def __init__(self, failure: BaseException | None = None) -> None:
        self.steps: list[str] = []
        self.api = _Api(self.steps, failure)

    async def create_room(self, room: str) -> None:
        self.steps.append(f"create {room}")

    async def dispatch_agent(self, room: str, agent_name: str) -> None:
        self.steps.append(f"dispatch {agent_name} to {room}")


class _Discovery:
    def __init__(self) -> None:
        self.expected: set[tuple[str, str]] = set()
        self.ever_expected: list[tuple[str, str]] = []

    def expect(self, room: str, identity: str) -> None:
        self.expected.add((room, identity))
        self.ever_expected.append((room, identity))

    def forget(self, room: str, identity: str) -> None:
        self.expected.discard((room, identity))


async def _dial(rooms: _Rooms, discovery: _Discovery, deleted: list[str]) -> Any:
    async def delete_room(room: str) -> None:
        deleted.append(room)

    return await dial_outbound(
        cast(RoomControl, rooms),
        to="+15105550100",
        trunk_id="ST_a",
        options=SIPGatewayOptions(agent_name="agent-x", ringing_timeout_s=12.0),
        discovery=cast(SIPCallDiscovery, discovery),
        delete_room=delete_room,
    )


async def test_an_answered_call_gets_the_agent_after_the_callee_answered() -> None:
    rooms, discovery, deleted = _Rooms(), _Discovery(), list[str]()
    answered = await _dial(rooms, discovery, deleted)
    room = answered.room_name
    assert room.startswith("sip-out-")
    assert answered.identity.startswith("sip-")
    assert rooms.steps == [f"create {room}", "dial", f"dispatch agent-x to {room}"]
    (request,) = rooms.api.sip.requests
    assert request.sip_trunk_id == "ST_a"
    assert request.sip_call_to == "+15105550100"
    assert request.room_name == room
    assert request.participant_identity == answered.identity
    assert request.wait_until_answered
    assert request.ringing_timeout.seconds == 12
    assert answered.call.call_id == "SCL_out"
    assert answered.call.direction == "outbound"
    assert answered.call.to == "+15105550100"
    assert discovery.ever_expected == [(room, answered.identity)]
    assert discovery.expected == set()
    assert deleted == []


async def test_a_failed_call_raises_the_sip_status_and_leaves_no_room() -> None:
    busy = api.SipCallError(
        "unavailable",
        "busy",
        status=503,
        metadata={"sip_status_code": "486", "sip_status": "Busy Here"},
    )
    rooms, discovery, deleted = _Rooms(busy), _Discovery(), list[str]()
    with pytest.raises(SIPCallError, match=r"^call failed: SIP 486 Busy Here$") as info:
        await _dial(rooms, discovery, deleted)
    assert (info.value.sip_status_code, info.value.sip_status) == (486, "Busy Here")
    ((room, _identity),) = discovery.ever_expected
    assert deleted == [room]
    assert not any(step.startswith("dispatch") for step in rooms.steps)
    assert discovery.expected == set()


async def test_a_cancelled_dial_leaves_no_room() -> None:
    rooms, discovery, deleted = _Rooms(asyncio.CancelledError()), _Discovery(), list[str]()
    with pytest.raises(asyncio.CancelledError):
        await _dial(rooms, discovery, deleted)
    ((room, _identity),) = discovery.ever_expected
    assert deleted == [room]
    assert discovery.expected == set()


@pytest.mark.parametrize(
    ("name_or_id", "trunk_id"), [("telnyx-outbound", "ST_b"), ("ST_a", "ST_a")]
)
async def test_the_outbound_trunk_is_found_by_name_or_id(name_or_id: str, trunk_id: str) -> None:
    lk = cast(api.LiveKitAPI, _Api([], None))
    assert await resolve_outbound_trunk(lk, name_or_id) == trunk_id


async def test_an_unknown_outbound_trunk_is_a_config_error() -> None:
    lk = cast(api.LiveKitAPI, _Api([], None))
    with pytest.raises(
        ConfigError,
        match=r"^SIPGatewayOptions\.outbound_trunk: no outbound trunk is named 'nope' "
        r"\(omnivoice-rtc sip apply creates it\)$",
    ):
        await resolve_outbound_trunk(lk, "nope")
