"""SIPSession: the :class:`~omnivoice_rtc.types.Session` of one SIP call in a LiveKit room.

The agent worker runs the conversation in the room; this object watches it from a
hidden observer participant: the agent's events arrive on the ``omnivoice.events``
data topic (for this caller's identity only), transcript and metrics are built from
them, and the session ends when the SIP participant leaves (BYE) or is removed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from livekit import rtc

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.calls.call_session import CallSession
from omnivoice_rtc.livekit.data_topics import (
    CONTROL_TOPIC,
    EVENTS_TOPIC,
    ControlCommand,
    decode_event_packet,
    encode_control,
)
from omnivoice_rtc.livekit.tokens import observer_token
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.types import CallInfo

__all__ = ["SIPSession", "call_info_from_attributes"]

logger = logging.getLogger(__name__)


def call_info_from_attributes(
    attributes: dict[str, str], *, direction: str, fallback_id: str
) -> CallInfo:
    """CallInfo from a SIP participant's ``sip.*`` attributes.

    ``sip.phoneNumber`` is the remote party (caller on inbound, callee on outbound),
    ``sip.trunkPhoneNumber`` our number; ``sip.callID`` is LiveKit's call id
    (``fallback_id`` when missing). The carrier is the dispatch rule's
    ``omnivoice.carrier`` attribute when set (sip/<carrier>.json), else ``sip``.
    """
    remote = attributes.get("sip.phoneNumber", "")
    ours = attributes.get("sip.trunkPhoneNumber", "")
    inbound = direction == "inbound"
    return CallInfo(
        call_id=attributes.get("sip.callID") or fallback_id,
        from_=remote if inbound else ours,
        to=ours if inbound else remote,
        direction=direction,
        carrier=attributes.get("omnivoice.carrier", "sip"),
        attributes=dict(attributes),
    )


class SIPSession(CallSession):
    """One SIP call (Go ``Session``); created by :class:`~.gateway.SIPGateway`.

    Observes the call's room as a hidden participant; hangs up by removing the SIP
    participant (livekit-sip then sends BYE).
    """

    def __init__(
        self,
        *,
        call: CallInfo,
        room_name: str,
        identity: str,
        hangup: Callable[[SIPSession], Awaitable[None]],
    ) -> None:
        super().__init__(call=call)
        self.room_name = room_name
        self.identity = identity
        self._hangup_call = hangup
        self._room: rtc.Room | None = None

    async def _send_control(self, command: ControlCommand) -> None:
        if self._room is None:
            raise SessionClosedError(f"session {self.id!r} is not observing its room")
        payload = encode_control(replace(command, participant=self.identity))
        await self._room.local_participant.publish_data(payload, reliable=True, topic=CONTROL_TOPIC)

    async def _hangup(self) -> None:
        await self._hangup_call(self)

    # ------------------------------------------------------------------ observer

    @property
    def observer_identity(self) -> str:
        """Our hidden participant's identity in the call's room."""
        return f"omnivoice-sip-observer-{self.identity}"

    async def observe(self, *, livekit: LiveKitSettings) -> None:
        """Join the call's room as a hidden observer (receives the agent's events)."""
        token = observer_token(
            credentials=livekit, room=self.room_name, identity=self.observer_identity
        )
        room = rtc.Room()
        room.on("data_received", self._on_data)
        room.on("participant_disconnected", self._on_participant_left)
        room.on("disconnected", self._on_room_disconnected)
        await room.connect(livekit.url, token, rtc.RoomOptions(auto_subscribe=False))
        self._room = room
        if self.identity not in room.remote_participants:
            # Left (or removed) before we joined; the room is still there until deleted.
            logger.info("sip participant gone before observer joined", extra={"call_id": self.id})

    async def aclose(self) -> None:
        """Leave the room (if joined) and end every ``events()`` iterator."""
        room, self._room = self._room, None
        if room is not None:
            await room.disconnect()
        self.mark_closed(self.end_reason or "closed")

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        try:
            event, participant, _session_id = decode_event_packet(packet.data)
        except ValueError as exc:
            logger.warning("bad omnivoice.events packet", extra={"error": str(exc)})
            return
        if participant == self.identity:
            self.on_event(event)

    def _on_participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.identity:
            self.mark_closed("hangup")

    def _on_room_disconnected(self, reason: Any) -> None:
        self.mark_closed(self.end_reason or "room_closed")
