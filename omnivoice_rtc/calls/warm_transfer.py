"""Warm transfer, the LiveKit side: the consult happens inside the caller's room.

livekit-server v1.13.5 (open source) answers ``MoveParticipant`` with "not implemented",
so livekit-agents' ``WarmTransferTask`` (which moves the caller into a consult room and
back) fails on a self-hosted server. Here the human joins the caller's own room and
subscriptions keep the two apart until the agent connects them:

* the human is dialled with ``CreateSIPParticipant`` through an outbound trunk
  (:func:`dial_transfer_target`), carrying the attribute
  :data:`ROLE_ATTRIBUTE` = :data:`TRANSFER_TARGET_ROLE` so the agent's job does not
  start a session for them (:func:`is_transfer_target`);
* caller and human do not hear each other: the server API ``UpdateSubscriptions``
  (:func:`set_subscribed`) unsubscribes each from the other's audio, and subscribes
  them again at the connect;
* when the human does not answer (busy, declined, ring timeout) their participant is
  removed (:func:`remove_transfer_target`).

The agent's part (hold, the briefing track, the summary, leaving) is
:mod:`omnivoice_rtc.agent.warm_transfer`. Works the same against LiveKit Cloud: only
room-service and SIP APIs every server implements are used.

Carrier media-stream routes do not support it (:data:`CARRIER_UNSUPPORTED_REASON`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final

from livekit import api

from omnivoice_rtc._errors import ConfigError, ProviderError, SIPCallError
from omnivoice_rtc.calls.control import END_REASON_ATTRIBUTE, TransferTarget
from omnivoice_rtc.logs import pii
from omnivoice_rtc.types.call_control import CARRIER_WARM_TRANSFER_REASON

__all__ = [
    "BRIEFING_TRACK",
    "CARRIER_UNSUPPORTED_REASON",
    "DEFAULT_RING_TIMEOUT_S",
    "ROLE_ATTRIBUTE",
    "TRANSFER_TARGET_ROLE",
    "WARM_TRANSFERRED",
    "call_to",
    "dial_transfer_target",
    "is_handed_over",
    "is_transfer_target",
    "remove_transfer_target",
    "resolve_outbound_trunk",
    "set_subscribed",
]

logger = logging.getLogger(__name__)

ROLE_ATTRIBUTE: Final = "omnivoice.role"
"""Participant attribute naming a participant's part in a call."""
TRANSFER_TARGET_ROLE: Final = "transfer-target"
""":data:`ROLE_ATTRIBUTE` of the human a warm transfer dialled (no agent session for them)."""
WARM_TRANSFERRED: Final = "warm_transferred"
"""End reason (``omnivoice.end_reason`` on the caller) of a call the agent handed to a
human and left: the caller stays in the room, no new agent is wanted."""
BRIEFING_TRACK: Final = "briefing"
"""Name of the agent's second audio track, which only the human may subscribe to."""
DEFAULT_RING_TIMEOUT_S: Final = 30.0
"""How long the human's phone rings before the transfer counts as not answered (s)."""

CARRIER_UNSUPPORTED_REASON: Final = CARRIER_WARM_TRANSFER_REASON
"""Why carrier routes do not support it (their ``capabilities`` say so)."""


def is_transfer_target(attributes: Mapping[str, str]) -> bool:
    """True for the human dialled by a warm transfer (the job serves no session for them)."""
    return attributes.get(ROLE_ATTRIBUTE) == TRANSFER_TARGET_ROLE


def is_handed_over(attributes: Mapping[str, str]) -> bool:
    """True for a participant no agent should serve: the human a warm transfer dialled,
    or the caller it connected to them (``omnivoice.end_reason`` = ``warm_transferred``)."""
    return (
        is_transfer_target(attributes) or attributes.get(END_REASON_ATTRIBUTE) == WARM_TRANSFERRED
    )


async def resolve_outbound_trunk(lk: api.LiveKitAPI, name_or_id: str) -> str:
    """The id (``ST_…``) of the outbound trunk named or numbered ``name_or_id``."""
    if not name_or_id:
        raise ConfigError("warm transfer: no outbound trunk configured (outbound_trunk)")
    try:
        listed = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
    except api.TwirpError as exc:
        raise ProviderError(f"livekit: ListSIPOutboundTrunk failed: {exc.message}") from exc
    for trunk in listed.items:
        if name_or_id in (trunk.sip_trunk_id, trunk.name):
            return str(trunk.sip_trunk_id)
    raise ConfigError(
        f"warm transfer: no outbound trunk is named {name_or_id!r} "
        "(omnivoice-rtc sip apply creates it)"
    )


def call_to(target: TransferTarget) -> str:
    """What the outbound trunk dials for ``target``: the number, or a SIP URI's user part
    (the trunk's address is the host)."""
    if target.kind == "number":
        return target.value
    return target.value.split(":", 1)[1].split("@", 1)[0]


async def dial_transfer_target(
    lk: api.LiveKitAPI,
    *,
    room: str,
    identity: str,
    trunk_id: str,
    target: TransferTarget,
    ring_timeout_s: float = DEFAULT_RING_TIMEOUT_S,
) -> None:
    """Dial ``target`` into ``room`` as ``identity`` and return once they answered.

    A number is dialled as is (``sip_call_to``: the trunk turns it into a SIP URI), a SIP
    URI as its user part. Not answered (busy, declined, ``ring_timeout_s`` s without an
    answer): SIPCallError with the SIP status; a LiveKit refusal: ProviderError.
    """
    request = api.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id,
        sip_call_to=call_to(target),
        room_name=room,
        participant_identity=identity,
        participant_name="Transfer",
        participant_attributes={ROLE_ATTRIBUTE: TRANSFER_TARGET_ROLE},
        wait_until_answered=True,
    )
    request.ringing_timeout.FromTimedelta(timedelta(seconds=ring_timeout_s))
    try:
        await lk.sip.create_sip_participant(request)
    except api.SipCallError as exc:
        code = exc.sip_status_code or 0
        status = exc.sip_status or exc.message
        logger.info(
            "warm transfer target did not answer",
            extra={"sip_status_code": code, "sip_status": status, **pii(to=target.value)},
        )
        raise SIPCallError(
            f"transfer target did not answer: SIP {code} {status}",
            sip_status_code=code,
            sip_status=status,
        ) from exc
    except api.TwirpError as exc:
        raise ProviderError(f"livekit: CreateSIPParticipant failed: {exc.message}") from exc


async def set_subscribed(
    lk: api.LiveKitAPI, *, room: str, identity: str, track_sids: Sequence[str], subscribe: bool
) -> None:
    """Subscribe ``identity`` to ``track_sids`` or unsubscribe it (``UpdateSubscriptions``)."""
    if not track_sids:
        return
    try:
        await lk.room.update_subscriptions(
            api.UpdateSubscriptionsRequest(
                room=room, identity=identity, track_sids=list(track_sids), subscribe=subscribe
            )
        )
    except api.TwirpError as exc:
        raise ProviderError(f"livekit: UpdateSubscriptions failed: {exc.message}") from exc


async def remove_transfer_target(lk: api.LiveKitAPI, *, room: str, identity: str) -> None:
    """Remove the human's participant (livekit-sip hangs up); nothing if it is gone."""
    try:
        await lk.room.remove_participant(api.RoomParticipantIdentity(room=room, identity=identity))
    except api.TwirpError as exc:
        if exc.code != api.TwirpErrorCode.NOT_FOUND:
            raise ProviderError(f"livekit: RemoveParticipant failed: {exc.message}") from exc
