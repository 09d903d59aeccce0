"""SIPSession: the :class:`~omnivoice_rtc.types.Session` of one SIP call in a LiveKit room.

The agent worker runs the conversation in the room; this object watches it from a
hidden observer participant: the agent's events arrive on the ``omnivoice.events``
data topic (for this caller's identity only), transcript and metrics are built from
them, and the session ends when the SIP participant leaves (BYE) or is removed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from livekit import api, rtc

from .._errors import SessionClosedError
from ..livekit.event_relay import EVENTS_TOPIC, decode_event_packet
from ..types import CallInfo, Event, EventType, Metrics, Turn

__all__ = ["CONTROL_TOPIC", "SIPSession", "call_info_from_attributes"]

logger = logging.getLogger(__name__)

CONTROL_TOPIC: Final = "omnivoice.control"
"""Room data topic for commands to the agent (``{"type": "say"|"interrupt", ...}``)."""
_EVENT_BUFFER: Final = 1024
"""Events kept per ``events()`` subscriber before the oldest are dropped."""


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


def _turn_text(data: Any) -> tuple[str, bool]:
    if isinstance(data, dict):
        text = data.get("text", "")
        return (text if isinstance(text, str) else ""), bool(data.get("final", True))
    return "", False


class SIPSession:
    """One SIP call (Go ``Session``); created by :class:`~.gateway.SIPGateway`."""

    def __init__(
        self,
        *,
        call: CallInfo,
        room_name: str,
        identity: str,
        hangup: Callable[[SIPSession], Awaitable[None]],
    ) -> None:
        self._call = call
        self.room_name = room_name
        self.identity = identity
        self._hangup = hangup
        self._room: rtc.Room | None = None
        self._events: list[Event] = []
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._transcript: list[Turn] = []
        self._agent_metrics: Metrics | None = None
        self._interruptions = 0
        self._ended_at: datetime | None = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.end_reason = ""

    # ------------------------------------------------------------------ Session protocol

    @property
    def id(self) -> str:
        return self._call.call_id

    @property
    def call(self) -> CallInfo:
        return self._call

    @property
    def from_(self) -> str:
        return self._call.from_

    @property
    def to(self) -> str:
        return self._call.to

    @property
    def direction(self) -> str:
        return self._call.direction

    @property
    def start_time(self) -> datetime:
        return self._call.start_time

    @property
    def duration(self) -> timedelta:
        return (self._ended_at or datetime.now(UTC)) - self._call.start_time

    @property
    def closed(self) -> bool:
        return self._ended_at is not None

    async def wait_closed(self) -> str:
        """Wait until the call ended; returns the end reason."""
        await self._closed.wait()
        return self.end_reason

    def events(self) -> AsyncIterator[Event]:
        """Events seen so far and from now on, until the call ends."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=_EVENT_BUFFER)
        for event in self._events[-_EVENT_BUFFER:]:
            queue.put_nowait(event)
        if self.closed:
            self._offer(queue, None)
        else:
            self._subscribers.add(queue)
        return self._drain(queue)

    async def _drain(self, queue: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._subscribers.discard(queue)

    def transcript(self) -> list[Turn]:
        return list(self._transcript)

    def metrics(self) -> Metrics:
        if self._agent_metrics is not None:
            return self._agent_metrics
        return Metrics(
            session_duration_ms=int(self.duration.total_seconds() * 1000),
            turn_count=len(self._transcript),
            interruption_count=self._interruptions,
        )

    async def send_text(self, text: str) -> None:
        """Ask the agent to say ``text`` (data message on ``omnivoice.control``)."""
        room = self._require_room()
        payload = json.dumps({"type": "say", "text": text}).encode()
        await room.local_participant.publish_data(payload, reliable=True, topic=CONTROL_TOPIC)

    def interrupt(self) -> None:
        """Ask the agent to stop speaking (data message on ``omnivoice.control``)."""
        room = self._require_room()
        payload = json.dumps({"type": "interrupt"}).encode()
        task = asyncio.get_running_loop().create_task(
            room.local_participant.publish_data(payload, reliable=True, topic=CONTROL_TOPIC)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def close(self) -> None:
        """Hang up: remove the SIP participant (livekit-sip sends BYE) and end the room."""
        if self.closed:
            return
        await self._hangup(self)

    def _require_room(self) -> rtc.Room:
        if self.closed or self._room is None:
            raise SessionClosedError(f"session {self.id!r} is closed")
        return self._room

    # ------------------------------------------------------------------ observer

    async def observe(self, *, url: str, api_key: str, api_secret: str) -> None:
        """Join the call's room as a hidden observer (receives the agent's events)."""
        token = (
            api.AccessToken(api_key, api_secret)
            .with_identity(f"omnivoice-sip-observer-{self.identity}")
            .with_grants(
                api.VideoGrants(
                    room_join=True,
                    room=self.room_name,
                    hidden=True,
                    can_subscribe=False,
                    can_publish=False,
                    can_publish_data=True,
                )
            )
            .to_jwt()
        )
        room = rtc.Room()
        room.on("data_received", self._on_data)
        room.on("participant_disconnected", self._on_participant_left)
        room.on("disconnected", self._on_room_disconnected)
        await room.connect(url, token, rtc.RoomOptions(auto_subscribe=False))
        self._room = room
        if self.identity not in room.remote_participants:
            # Left (or removed) before we joined; the room is still there until deleted.
            logger.info("sip participant gone before observer joined", extra={"call_id": self.id})

    async def aclose(self) -> None:
        """Leave the room (if joined) and end every ``events()`` iterator."""
        for task in list(self._tasks):
            task.cancel()
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

    # ------------------------------------------------------------------ feeding

    def on_event(self, event: Event) -> None:
        """Record an event and fan it out to ``events()`` iterators."""
        if event.type in (EventType.USER_TRANSCRIPT, EventType.AGENT_TRANSCRIPT):
            text, final = _turn_text(event.data)
            if text and final:
                role = "user" if event.type is EventType.USER_TRANSCRIPT else "agent"
                self._transcript.append(Turn(role=role, text=text, timestamp=event.timestamp))
        elif event.type is EventType.INTERRUPTION:
            self._interruptions += 1
        elif event.type is EventType.SESSION_ENDED and isinstance(event.data, dict):
            self._take_final_report(event.data)
        self._events.append(event)
        if len(self._events) > 4 * _EVENT_BUFFER:
            del self._events[:_EVENT_BUFFER]
        for queue in list(self._subscribers):
            self._offer(queue, event)

    def _take_final_report(self, data: dict[str, Any]) -> None:
        try:
            if isinstance(data.get("metrics"), dict):
                self._agent_metrics = Metrics.from_dict(data["metrics"])
            if isinstance(data.get("transcript"), list):
                self._transcript = [Turn.from_dict(t) for t in data["transcript"]]
        except ValueError as exc:
            logger.warning(
                "bad session_ended report", extra={"call_id": self.id, "error": str(exc)}
            )

    def mark_closed(self, reason: str) -> None:
        """The call ended (BYE, removal, room gone): end every ``events()`` iterator."""
        if self._ended_at is not None:
            return
        self.end_reason = reason
        self._ended_at = datetime.now(UTC)
        self._closed.set()
        for queue in list(self._subscribers):
            self._offer(queue, None)
        self._subscribers.clear()

    @staticmethod
    def _offer(queue: asyncio.Queue[Event | None], item: Event | None) -> None:
        if queue.full():
            queue.get_nowait()  # drop the oldest for a slow reader
        queue.put_nowait(item)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("control message not sent", extra={"error": str(task.exception())})
