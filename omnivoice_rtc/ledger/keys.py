"""Which call a fact belongs to, and what kind of call it is, from what every writer knows.

Every call, whatever its route, is one participant (the caller) in one LiveKit room; the
pair (room name, participant identity) names it for every process: the agent (its
``LiveKitSession``), the web server's shim (``call_room_name``/``call_participant_identity``),
LiveKit's webhooks and the SIP gateway. :func:`call_key` turns the pair into the record's
id, so writers in different processes merge into one row without asking each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from omnivoice_rtc.livekit.names import CALL_ROOM_PREFIX, SIP_ROOM_PREFIX

__all__ = [
    "ENDED_BY",
    "ROUTES",
    "CallParties",
    "EndedBy",
    "Route",
    "call_key",
    "classify",
    "ended_by_for",
]

Route = Literal["browser", "sip", "media_stream"]
ROUTES: Final[tuple[Route, ...]] = ("browser", "sip", "media_stream")
"""``browser`` (a WebRTC participant, e.g. the page), ``sip`` (livekit-sip), ``media_stream``
(a carrier media stream through the shim)."""

EndedBy = Literal["caller", "agent", "api", "system", "unknown"]
ENDED_BY: Final[tuple[EndedBy, ...]] = ("caller", "agent", "api", "system", "unknown")
"""Who ended a call: the caller (or the carrier on their behalf), the agent, our code
(``Session.close``, a control command), the system (errors, limits, shutdown)."""

_ENDED_BY_REASON: Final[Mapping[str, EndedBy]] = {
    # the shim (CallBridge reasons)
    "carrier_stop": "caller",
    "carrier_hangup": "caller",
    "agent_left": "agent",
    "session_closed": "api",
    "gateway_stopped": "system",
    "room_disconnected": "system",
    "error": "system",
    # the agent (livekit CloseReason values and ours)
    "participant_disconnected": "caller",
    "user_initiated": "api",
    "task_completed": "agent",
    "max_duration": "agent",
    "job_shutdown": "system",
    # SIP and LiveKit's webhooks
    "hangup": "caller",
    "participant_left": "caller",
    "room_finished": "system",
    "lost": "system",
}


def ended_by_for(reason: str) -> EndedBy:
    """Who ended a call that ended for ``reason`` (``policy_*`` reasons: the system)."""
    if reason.startswith("policy_") or reason.startswith("sip_"):
        return "system"
    return _ENDED_BY_REASON.get(reason, "unknown")


def call_key(room_name: str, participant_identity: str) -> str:
    """The record id of the call of ``participant_identity`` in ``room_name``."""
    digest = hashlib.sha256(f"{room_name}\0{participant_identity}".encode()).hexdigest()
    return f"call_{digest[:24]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallParties:
    """What a participant's attributes say about its call (see :func:`classify`)."""

    route: Route
    direction: str = "inbound"
    carrier: str = ""
    carrier_call_id: str = ""
    sip_call_id: str = ""
    caller: str = ""
    callee: str = ""


def classify(room_name: str, attributes: Mapping[str, str], *, sip_kind: bool) -> CallParties:
    """Route, carrier, ids and parties of a participant, from its room name and attributes.

    The shim's callers carry ``carrier``/``call_id``/``from``/``to``/``direction`` in
    ``call-…`` rooms; livekit-sip's carry ``sip.*`` (``sip.phoneNumber`` the remote
    party, ``sip.trunkPhoneNumber`` ours, ``sip.callID``) and our dispatch rules add
    ``omnivoice.carrier``; anyone else is a browser (WebRTC) participant.
    """
    direction = attributes.get("direction", "")
    if room_name.startswith(CALL_ROOM_PREFIX) and "call_id" in attributes:
        return CallParties(
            route="media_stream",
            direction=direction if direction in ("inbound", "outbound") else "inbound",
            carrier=attributes.get("carrier", ""),
            carrier_call_id=attributes.get("call_id", ""),
            caller=attributes.get("from", ""),
            callee=attributes.get("to", ""),
        )
    if sip_kind or "sip.callID" in attributes or room_name.startswith(SIP_ROOM_PREFIX):
        inbound = "sip.ruleID" in attributes or not room_name.startswith(SIP_ROOM_PREFIX + "out")
        remote = attributes.get("sip.phoneNumber", "")
        ours = attributes.get("sip.trunkPhoneNumber", "")
        return CallParties(
            route="sip",
            direction="inbound" if inbound else "outbound",
            carrier=attributes.get("omnivoice.carrier", "sip"),
            sip_call_id=attributes.get("sip.callID", ""),
            caller=remote if inbound else ours,
            callee=ours if inbound else remote,
        )
    return CallParties(route="browser")
