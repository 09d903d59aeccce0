"""CallSession: the Go ``Session`` of a phone call whose conversation runs in a room.

Every phone call, whether it arrived over a carrier media stream (the shim) or a SIP
trunk (livekit-sip), is a participant in a LiveKit room where the agent worker runs
its ``LiveKitSession``. The process that controls the call does not hold that
session object; it sees it through the room:

* events arrive on the ``omnivoice.events`` data topic (``event_relay``) and are fed
  to :meth:`CallSession.on_event`; transcript and metrics are built from them, and
  replaced by the agent's own final report in ``session_ended``;
* commands go back on ``omnivoice.control`` (``control``): ``send_text`` → ``say``,
  ``interrupt`` → ``interrupt``.

This base owns that bookkeeping and the task that carries fire-and-forget commands;
a route implements two hooks: how a command reaches the room and how to hang up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.livekit.data_topics import ControlCommand
from omnivoice_rtc.types import CallInfo, Event, EventType, Metrics, Turn

__all__ = ["CallSession"]

logger = logging.getLogger(__name__)

EVENT_BUFFER: Final = 1024
"""Events kept per ``events()`` subscriber before the oldest are dropped."""


def _turn_text(data: Any) -> tuple[str, bool]:
    """(text, final) from a transcript event's data: a string or {"text", "final"}."""
    if isinstance(data, str):
        return data, True
    if isinstance(data, dict):
        text = data.get("text", "")
        return (text if isinstance(text, str) else ""), bool(data.get("final", True))
    return "", False


class CallSession(ABC):
    """A phone call observed through its room (implements ``types.Session``)."""

    def __init__(self, *, call: CallInfo) -> None:
        self._call = call
        self._events: list[Event] = []
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._transcript: list[Turn] = []
        self._agent_metrics: Metrics | None = None
        self._interruptions = 0
        self._ended_at: datetime | None = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.end_reason = ""

    # ------------------------------------------------------------------ route hooks

    @abstractmethod
    async def _send_control(self, command: ControlCommand) -> None:
        """Publish ``command`` on the room's ``omnivoice.control`` topic."""

    @abstractmethod
    async def _hangup(self) -> None:
        """End the call on the carrier / SIP side (the room follows)."""

    def _on_interrupt(self) -> None:  # noqa: B027 - reason: optional hook, default does nothing
        """Route-specific part of :meth:`interrupt` (e.g. flush the carrier's buffer)."""

    def _audio_bytes(self) -> tuple[int, int]:
        """Caller audio bytes (received, sent) counted by the route, for local metrics."""
        return 0, 0

    def _rebind(self, call_id: str) -> None:
        """Adopt the carrier's real call id once it is known (a dial that first returned a
        request id); the rest of the call record stays."""
        self._call = dataclasses.replace(self._call, call_id=call_id)

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
        """Events seen so far (up to 1024) and from now on, until the call ends."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=EVENT_BUFFER)
        for event in self._events[-EVENT_BUFFER:]:
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
        """The agent's final metrics once reported; until then, what this side counted."""
        if self._agent_metrics is not None:
            return self._agent_metrics
        received, sent = self._audio_bytes()
        return Metrics(
            session_duration_ms=int(self.duration.total_seconds() * 1000),
            turn_count=len(self._transcript),
            interruption_count=self._interruptions,
            audio_bytes_received=received,
            audio_bytes_sent=sent,
        )

    async def send_text(self, text: str) -> None:
        """A user turn from text, bypassing STT; the agent answers it by voice."""
        self._require_open()
        await self._send_control(ControlCommand(type="say", text=text))

    def interrupt(self) -> None:
        """Stop the agent's current speech (route hook, then ``interrupt`` to the agent)."""
        self._require_open()
        self._on_interrupt()
        self.spawn(self._send_control(ControlCommand(type="interrupt")))

    async def close(self) -> None:
        """Hang up. Idempotent."""
        if self.closed:
            return
        await self._hangup()

    def _require_open(self) -> None:
        if self.closed:
            raise SessionClosedError(f"session {self.id!r} is closed")

    def spawn(self, coro: Any) -> None:
        """Run a fire-and-forget command; owned here and cancelled by :meth:`mark_closed`."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ feeding

    def on_event(self, event: Event) -> None:
        """Record an agent event and fan it out to every ``events()`` iterator."""
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
        if len(self._events) > 4 * EVENT_BUFFER:
            del self._events[:EVENT_BUFFER]
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
        """The call ended: record why, end every ``events()`` iterator, cancel commands."""
        if self._ended_at is not None:
            return
        self.end_reason = reason
        self._ended_at = datetime.now(UTC)
        self._closed.set()
        for queue in list(self._subscribers):
            self._offer(queue, None)
        self._subscribers.clear()
        for task in list(self._tasks):
            task.cancel()

    @staticmethod
    def _offer(queue: asyncio.Queue[Event | None], item: Event | None) -> None:
        if queue.full():
            queue.get_nowait()  # drop the oldest for a slow reader
        queue.put_nowait(item)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("control message not sent", extra={"error": str(task.exception())})
