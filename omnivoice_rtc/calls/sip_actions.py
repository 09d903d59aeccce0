"""Call control of a SIP participant through LiveKit: from any process holding the API key
(``SIPSession`` in your process, the agent's tools in the worker, the operator CLI).

* transfer: ``TransferSIPParticipant`` (livekit-sip sends REFER with ``Refer-To: tel:…``
  or ``<sip:…>``; the participant leaves once the far end reported success; one still in
  the room :data:`TRANSFER_LEAVE_S` s later is removed, so the old leg gets its BYE; an
  answer livekit-sip lost to a race is taken as accepted, see :func:`transfer_sip`);
* hang-up: ``RemoveParticipant`` (livekit-sip sends BYE);
* DTMF: ``publish_dtmf`` from a participant in the room (livekit-sip sends RFC 4733
  events), one digit every :data:`DTMF_GAP_S` s.

Before a transfer or hang-up the SIP participant's ``omnivoice.end_reason`` attribute is
set (``UpdateParticipant``), so whoever observes the call records why it ended.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from livekit import api, rtc

from omnivoice_rtc._errors import ProviderError, SessionClosedError, SIPCallError
from omnivoice_rtc.calls.control import END_REASON_ATTRIBUTE, TRANSFERRED, TransferTarget
from omnivoice_rtc.shim.call_room import dtmf_code

__all__ = [
    "DTMF_GAP_S",
    "LOST_RESPONSE_WITHIN_S",
    "TRANSFER_LEAVE_S",
    "hang_up_sip",
    "send_sip_digits",
    "set_end_reason",
    "transfer_sip",
]

logger = logging.getLogger(__name__)

DTMF_GAP_S: Final = 0.3
"""Pause between two digits sent to a SIP line (s), as livekit-agents' ``send_dtmf_events``."""

_LOST_RESPONSE: Final = "transaction failed to complete (0 intermediate responses)"
LOST_RESPONSE_WITHIN_S: Final = 1.0
"""A REFER failing with :data:`_LOST_RESPONSE` this soon (s) got an answer livekit-sip lost;
later, the same error is the far end never answering (timer F, 32 s): a real failure."""

TRANSFER_LEAVE_S: Final = 3.0
"""How long a transferred SIP participant may stay in the room (s). livekit-sip closes the
old leg 1 s after the far end's NOTIFY reported success (``referByeTimeout``); seen once
under load on the 2-core CI box: no BYE 60 s later. Then we remove it ourselves (BYE)."""

_LEAVE_POLL_S: Final = 0.25


async def set_end_reason(lk: api.LiveKitAPI, *, room: str, identity: str, reason: str) -> None:
    """Record ``reason`` on the SIP participant (``omnivoice.end_reason``); a participant
    already gone is SessionClosedError."""
    try:
        await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=room, identity=identity, attributes={END_REASON_ATTRIBUTE: reason}
            )
        )
    except api.TwirpError as exc:
        if exc.code == api.TwirpErrorCode.NOT_FOUND:
            raise SessionClosedError(f"participant {identity!r} has left") from exc
        raise ProviderError(f"livekit: UpdateParticipant failed: {exc.message}") from exc


async def transfer_sip(
    lk: api.LiveKitAPI, *, room: str, identity: str, target: TransferTarget
) -> None:
    """Cold-transfer the SIP participant to ``target`` (REFER); SIPCallError when the far
    end refused, ProviderError when LiveKit did."""
    await set_end_reason(lk, room=room, identity=identity, reason=TRANSFERRED)
    loop = asyncio.get_running_loop()
    asked_at = loop.time()
    try:
        reply = await lk.sip.transfer_sip_participant(
            api.TransferSIPParticipantRequest(
                room_name=room, participant_identity=identity, transfer_to=target.sip_uri
            )
        )
    except api.TwirpError as exc:
        if _LOST_RESPONSE in exc.message and loop.time() - asked_at < LOST_RESPONSE_WITHIN_S:
            # livekit-sip v1.0.0 (pkg/sip/outbound.go sipResponse) selects on the REFER
            # transaction's Done and Responses channels at once; when both are ready Go
            # picks one at random and the far end's final answer (almost always 202) is
            # lost. Seen in full test runs: SIPp's 202 sent, livekit-sip failing 2 ms after
            # its REFER. Taken as accepted: the old leg is closed as after a success.
            logger.warning(
                "livekit-sip lost the answer to its REFER; transfer taken as accepted",
                extra={"room": room, "participant": identity},
            )
            await _remove_when_lingering(lk, room=room, identity=identity)
            return
        await _forget_reason(lk, room=room, identity=identity)
        status = exc.metadata.get("sip_status_code", "") if exc.metadata else ""
        if status.isdigit():
            raise SIPCallError(
                f"livekit-sip: transfer refused: {exc.message}",
                sip_status_code=int(status),
                sip_status=exc.metadata.get("sip_status", ""),
            ) from exc
        raise ProviderError(f"livekit: TransferSIPParticipant failed: {exc.message}") from exc
    if reply.status == api.SIPTransferStatus.STS_TRANSFER_FAILED:
        await _forget_reason(lk, room=room, identity=identity)
        raise SIPCallError(
            f"livekit-sip: transfer failed: {reply.reason}",
            sip_status_code=int(reply.sip_status.code) if reply.HasField("sip_status") else 0,
            sip_status=str(reply.reason),
        )
    await _remove_when_lingering(lk, room=room, identity=identity)


async def _remove_when_lingering(lk: api.LiveKitAPI, *, room: str, identity: str) -> None:
    """After a successful transfer: remove the participant if it is still in the room
    :data:`TRANSFER_LEAVE_S` s later (livekit-sip did not close the old leg)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TRANSFER_LEAVE_S
    request = api.RoomParticipantIdentity(room=room, identity=identity)
    while loop.time() < deadline:
        await asyncio.sleep(_LEAVE_POLL_S)
        try:
            await lk.room.get_participant(request)
        except api.TwirpError as exc:
            if exc.code == api.TwirpErrorCode.NOT_FOUND:
                return  # gone: livekit-sip closed the old leg
            logger.warning(  # the transfer itself succeeded: not the caller's error
                "transferred SIP participant not checked", extra={"error": exc.message}
            )
            return
    logger.warning(
        "transferred SIP participant still in the room; removing it", extra={"room": room}
    )
    try:
        await lk.room.remove_participant(request)
    except api.TwirpError as exc:
        if exc.code != api.TwirpErrorCode.NOT_FOUND:
            logger.warning("transferred SIP participant not removed", extra={"error": exc.message})


async def _forget_reason(lk: api.LiveKitAPI, *, room: str, identity: str) -> None:
    try:
        await set_end_reason(lk, room=room, identity=identity, reason="")
    except (SessionClosedError, ProviderError) as exc:
        logger.info("end reason not cleared", extra={"error": str(exc)})


async def hang_up_sip(lk: api.LiveKitAPI, *, room: str, identity: str, reason: str) -> None:
    """Record ``reason`` and remove the SIP participant (BYE); nothing if it has left."""
    try:
        await set_end_reason(lk, room=room, identity=identity, reason=reason)
        await lk.room.remove_participant(api.RoomParticipantIdentity(room=room, identity=identity))
    except SessionClosedError:
        return
    except api.TwirpError as exc:
        if exc.code != api.TwirpErrorCode.NOT_FOUND:
            raise ProviderError(f"livekit: RemoveParticipant failed: {exc.message}") from exc


async def send_sip_digits(participant: rtc.LocalParticipant, digits: str) -> None:
    """Publish ``digits`` as DTMF from ``participant`` (RFC 4733 on the SIP leg)."""
    for index, digit in enumerate(digits):
        if index:
            await asyncio.sleep(DTMF_GAP_S)
        await participant.publish_dtmf(code=dtmf_code(digit), digit=digit)
