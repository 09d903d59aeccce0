"""PstnSession: the :class:`~omnivoice_rtc.types.Session` of a carrier media-stream call.

Events come from the agent's ``omnivoice.events`` room topic (relayed by the bridge);
:meth:`PstnSession.transcript` and :meth:`PstnSession.metrics` are built from them
(the agent's ``session_ended`` metrics when it arrives, else counted locally).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .._errors import SessionClosedError
from ..types import CallInfo, Event, EventType, Metrics, Turn
from .bridge import CallBridge

__all__ = ["CONTROL_TOPIC", "PstnSession"]

logger = logging.getLogger(__name__)

CONTROL_TOPIC: Final = "omnivoice.control"
"""Room data topic for commands to the agent (``{"type": "say"|"interrupt", ...}``)."""
_EVENT_BUFFER: Final = 1024
"""Events kept per ``events()`` subscriber before the oldest are dropped."""


def _text_of(data: Any) -> tuple[str, bool]:
    """(text, final) from an event's data: a string, or {"text"|"transcript", "final"}."""
    if isinstance(data, str):
        return data, True
    if isinstance(data, dict):
        text = data.get("text", data.get("transcript", ""))
        final = data.get("final", data.get("is_final", True))
        return (text if isinstance(text, str) else ""), bool(final)
    return "", False


class PstnSession:
    """One phone call answered through a carrier media stream (Go ``Session``)."""

    def __init__(self, *, call: CallInfo, bridge: CallBridge | None = None) -> None:
        self._call = call
        self._bridge = bridge
        self._events: list[Event] = []
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._transcript: list[Turn] = []
        self._agent_metrics: Metrics | None = None
        self._interruptions = 0
        self._ended_at: datetime | None = None
        self.end_reason = ""

    def attach(self, bridge: CallBridge) -> None:
        self._bridge = bridge

    @property
    def bridge(self) -> CallBridge | None:
        return self._bridge

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
        end = self._ended_at or datetime.now(UTC)
        return end - self._call.start_time

    @property
    def closed(self) -> bool:
        return self._ended_at is not None

    def events(self) -> AsyncIterator[Event]:
        """Events from now on (plus those already seen), until the call ends."""
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
        counters = self._bridge.counters if self._bridge else None
        return Metrics(
            session_duration_ms=int(self.duration.total_seconds() * 1000),
            turn_count=len(self._transcript),
            interruption_count=self._interruptions,
            audio_bytes_received=counters.bytes_in if counters else 0,
            audio_bytes_sent=counters.bytes_out if counters else 0,
        )

    async def send_text(self, text: str) -> None:
        """Ask the agent to say ``text`` (data message on ``omnivoice.control``)."""
        bridge = self._require_bridge()
        payload = json.dumps({"type": "say", "text": text}).encode()
        await bridge.room.send_data(payload, topic=CONTROL_TOPIC)

    def interrupt(self) -> None:
        """Stop the agent's current speech: flush the carrier and tell the agent."""
        bridge = self._require_bridge()
        bridge.spawn(bridge.flush("session_interrupt"))
        payload = json.dumps({"type": "interrupt"}).encode()
        bridge.spawn(bridge.room.send_data(payload, topic=CONTROL_TOPIC))

    async def close(self) -> None:
        """Hang up (carrier REST hang-up when configured, then close the socket)."""
        if self._bridge is None or self._bridge.closed:
            return
        await self._bridge.end("session_closed")

    def _require_bridge(self) -> CallBridge:
        if self._bridge is None or self._bridge.closed:
            raise SessionClosedError(f"session {self.id!r} is closed")
        return self._bridge

    # ------------------------------------------------------------------ feeding

    def on_event(self, event: Event) -> None:
        """Record an event (agent's or shim's) and fan it out to ``events()`` iterators."""
        if event.type in (EventType.USER_TRANSCRIPT, EventType.AGENT_TRANSCRIPT):
            text, final = _text_of(event.data)
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

    def on_closed(self, reason: str) -> None:
        """The bridge tore down: end every ``events()`` iterator."""
        self.end_reason = reason
        self._ended_at = datetime.now(UTC)
        for queue in list(self._subscribers):
            self._offer(queue, None)
        self._subscribers.clear()

    @staticmethod
    def _offer(queue: asyncio.Queue[Event | None], item: Event | None) -> None:
        if queue.full():
            queue.get_nowait()  # drop the oldest for a slow reader
        queue.put_nowait(item)
