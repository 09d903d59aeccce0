"""The live phone calls, as LiveKit sees them: every SIP participant and every carrier
caller the shim holds in a ``call-<carrier>-…`` room, from any process with the API key
(``ListRooms`` + ``ListParticipants``; no state of ours, so every replica's calls show).

A call's ``id`` is what the CLI takes: the carrier's call id on carrier routes (CallSid,
call_control_id, UUID), LiveKit's SIP call id (``sip.callID``) on SIP. ``caller`` /
``callee`` / ``carrier_call_id`` are the agent's :class:`~omnivoice_rtc.agent.call_context.CallContext`
values for that participant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from livekit import api

from omnivoice_rtc.agent.call_context import WEBRTC_ROUTE, call_context_for
from omnivoice_rtc.types import ParticipantInfo

__all__ = ["LiveCall", "active_calls", "find_call"]

_KINDS = {
    api.ParticipantInfo.Kind.SIP: "sip",
    api.ParticipantInfo.Kind.AGENT: "agent",
    api.ParticipantInfo.Kind.STANDARD: "standard",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveCall:
    """One live phone call (see the module docstring); ``started``: when its participant
    joined the room (UTC)."""

    id: str
    route: str
    room: str
    participant: str
    carrier_call_id: str
    caller: str
    callee: str
    direction: str
    started: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": self.route,
            "room": self.room,
            "participant": self.participant,
            "carrier_call_id": self.carrier_call_id,
            "caller": self.caller,
            "callee": self.callee,
            "direction": self.direction,
            "started": self.started.isoformat(timespec="seconds"),
        }


def _live_call(room: str, p: api.ParticipantInfo) -> LiveCall | None:
    joined = p.joined_at_ms / 1000 if p.joined_at_ms else float(p.joined_at)
    info = ParticipantInfo(
        identity=p.identity,
        display_name=p.name,
        room_name=room,
        metadata=p.metadata,
        joined_at=datetime.fromtimestamp(joined, UTC),
        attributes=dict(p.attributes),
        kind=_KINDS.get(p.kind, "standard"),
    )
    ctx = call_context_for(info)
    if ctx.route == WEBRTC_ROUTE:
        return None
    call_id = info.attributes.get("sip.callID", "") if ctx.route == "sip" else ctx.carrier_call_id
    return LiveCall(
        id=call_id or ctx.carrier_call_id or p.identity,
        route=ctx.route,
        room=room,
        participant=p.identity,
        carrier_call_id=ctx.carrier_call_id,
        caller=ctx.caller,
        callee=ctx.callee,
        direction=ctx.direction,
        started=info.joined_at,
    )


async def active_calls(lk: api.LiveKitAPI) -> list[LiveCall]:
    """Every live phone call on the LiveKit server, oldest first."""
    calls: list[LiveCall] = []
    rooms = await lk.room.list_rooms(api.ListRoomsRequest())
    for room in rooms.rooms:
        listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
        for participant in listed.participants:
            call = _live_call(room.name, participant)
            if call is not None:
                calls.append(call)
    return sorted(calls, key=lambda c: c.started)


def find_call(calls: list[LiveCall], key: str) -> LiveCall | None:
    """The call whose id, carrier call id, room or participant identity is ``key``."""
    for call in calls:
        if key in (call.id, call.carrier_call_id, call.room, call.participant):
            return call
    return None
