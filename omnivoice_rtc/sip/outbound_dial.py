"""Outbound SIP calls of :class:`~omnivoice_rtc.sip.sip_gateway.SIPGateway`: find the
outbound trunk by name or id, and dial a number through it into a new reserved room.

:func:`dial_outbound` creates the room (``sip-out-<12 hex>``), asks livekit-server to dial
(``CreateSIPParticipant`` with ``wait_until_answered``), records the call in the ledger and
dispatches the agent only once the callee answered; a failed call deletes its room and
raises :class:`~omnivoice_rtc.SIPCallError` with the SIP status. Part of
:mod:`omnivoice_rtc.sip.sip_gateway` (``SIPGateway.make_call`` guards, claims and tracks
the call), kept apart to keep that module short.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from livekit import api

from omnivoice_rtc._errors import ConfigError, SIPCallError
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.livekit.names import sip_outbound_room_name
from omnivoice_rtc.livekit.rooms import RoomControl
from omnivoice_rtc.sip.call_discovery import SIPCallDiscovery
from omnivoice_rtc.sip.gateway_options import SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import call_info_from_attributes
from omnivoice_rtc.types import CallInfo

__all__ = ["AnsweredCall", "dial_outbound", "resolve_outbound_trunk"]

logger = logging.getLogger("omnivoice_rtc.sip.sip_gateway")


@dataclass(frozen=True, slots=True, kw_only=True)
class AnsweredCall:
    """An outbound call the callee answered: its call, room and the callee's identity."""

    call: CallInfo
    room_name: str
    identity: str


async def resolve_outbound_trunk(lk: api.LiveKitAPI, name_or_id: str) -> str:
    """The id (``ST_…``) of the outbound trunk named or numbered ``name_or_id``; ConfigError
    when there is none."""
    listed = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
    for trunk in listed.items:
        if name_or_id in (trunk.sip_trunk_id, trunk.name):
            return trunk.sip_trunk_id
    raise ConfigError(
        f"SIPGatewayOptions.outbound_trunk: no outbound trunk is named {name_or_id!r} "
        "(omnivoice-rtc sip apply creates it)"
    )


async def dial_outbound(
    rooms: RoomControl,
    *,
    to: str,
    trunk_id: str,
    options: SIPGatewayOptions,
    discovery: SIPCallDiscovery,
    delete_room: Callable[[str], Awaitable[None]],
) -> AnsweredCall:
    """Dial ``to`` through the outbound trunk ``trunk_id`` (ringing at most
    ``options.ringing_timeout_s`` s) and dispatch ``options.agent_name`` once answered.
    ``discovery`` is told to expect the callee (the room scan must not offer it as an
    inbound call); ``delete_room`` deletes the room of a call that failed or was cancelled.
    Raises SIPCallError(sip_status_code, sip_status) when the call fails."""
    lk = rooms.api
    room_name = sip_outbound_room_name(options.outbound_room_prefix)
    identity = f"sip-{secrets.token_hex(4)}"
    discovery.expect(room_name, identity)
    request = api.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id,
        sip_call_to=to,
        room_name=room_name,
        participant_identity=identity,
        participant_name="Phone",
        wait_until_answered=True,
    )
    request.ringing_timeout.FromTimedelta(timedelta(seconds=options.ringing_timeout_s))
    dialled = CallInfo(call_id=identity, to=to, direction="outbound")
    ledger_id = route_call_started(
        options.ledger,
        room_name=room_name,
        identity=identity,
        attributes={"sip.phoneNumber": to},
        call=dialled,
        source="sip_gateway",
        answered=False,
        bind=False,
    )
    try:
        await rooms.create_room(room_name)
        await lk.sip.create_sip_participant(request)
    except api.SipCallError as exc:
        await delete_room(room_name)
        code = exc.sip_status_code or 0
        status = exc.sip_status or exc.message
        route_call_ended(options.ledger, ledger_id, reason=f"sip_{code}", source="sip_gateway")
        logger.info(
            "outbound sip call failed",
            extra={"omnivoice.pii.to": to, "sip_status_code": code, "sip_status": status},
        )
        raise SIPCallError(
            f"call failed: SIP {code} {status}", sip_status_code=code, sip_status=status
        ) from exc
    except BaseException:  # other API errors, cancellation: no room is left behind
        await asyncio.shield(delete_room(room_name))
        raise
    finally:
        discovery.forget(room_name, identity)
    # Dispatch the agent only once the callee answered: a failed call never gets an
    # agent (which would re-create the deleted room by joining it).
    await rooms.dispatch_agent(room_name, options.agent_name)
    participant = await lk.room.get_participant(
        api.RoomParticipantIdentity(room=room_name, identity=identity)
    )
    call = call_info_from_attributes(
        dict(participant.attributes), direction="outbound", fallback_id=participant.sid
    )
    return AnsweredCall(call=call, room_name=room_name, identity=identity)
