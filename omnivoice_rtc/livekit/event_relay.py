"""Relay session events to the room as JSON data packets on topic ``omnivoice.events``.

Out-of-process observers (the phone shim, the browser page, tests) subscribe to the
room's data and see every session the agent runs there.

Wire format (one reliable data packet per event, sent to every participant)::

    {"type": "user_transcript",                  # EventType value
     "timestamp": "2026-11-24T10:00:00.123Z",    # RFC 3339, UTC
     "data": {...},                               # optional, per type (docs/sessions.md)
     "error": "...",                              # optional, error message
     "participant": "web-3f2a",                   # identity of the session's user
     "session_id": "RM_x/web-3f2a"}               # LiveKitSession.id

``session_ended`` data is ``{"reason": str, "metrics": Metrics.to_dict(),
"transcript": [Turn.to_dict(), ...]}``; when the packet would exceed
:data:`MAX_PAYLOAD_BYTES` the oldest turns are dropped and ``"transcript_truncated":
true`` is added.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from ..types import Event, EventType

__all__ = ["EVENTS_TOPIC", "MAX_PAYLOAD_BYTES", "EventRelay", "decode_event_packet", "encode_event"]

logger = logging.getLogger(__name__)

EVENTS_TOPIC = "omnivoice.events"
MAX_PAYLOAD_BYTES = 14_000
"""Keep packets under LiveKit's ~15 KiB reliable data packet guidance."""

_QUEUE_LIMIT = 1000


class _Publisher(Protocol):
    async def publish_data(
        self, payload: bytes | str, *, reliable: bool = ..., topic: str = ...
    ) -> None: ...


def encode_event(event: Event, *, participant: str, session_id: str) -> bytes:
    """The JSON packet for ``event`` (UTF-8), shrunk to fit :data:`MAX_PAYLOAD_BYTES`."""
    body: dict[str, Any] = event.to_dict()
    body["participant"] = participant
    body["session_id"] = session_id
    raw = json.dumps(body, separators=(",", ":")).encode()
    data = body.get("data")
    if len(raw) <= MAX_PAYLOAD_BYTES or not isinstance(data, dict) or "transcript" not in data:
        return raw
    turns = list(data["transcript"])
    while turns and len(raw) > MAX_PAYLOAD_BYTES:
        turns.pop(0)
        body["data"] = {**data, "transcript": turns, "transcript_truncated": True}
        raw = json.dumps(body, separators=(",", ":")).encode()
    return raw


def decode_event_packet(payload: bytes | str) -> tuple[Event, str, str]:
    """Parse a packet back into (Event, participant identity, session id); ValueError if bad."""
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"omnivoice.events packet: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("omnivoice.events packet: expected a JSON object")
    participant = body.pop("participant", "")
    session_id = body.pop("session_id", "")
    if not isinstance(participant, str) or not isinstance(session_id, str):
        raise ValueError("omnivoice.events packet: participant and session_id must be strings")
    return Event.from_dict(body), participant, session_id


class EventRelay:
    """Publishes events in order from one owned task; never blocks the caller.

    If the room is gone or the queue overflows (``_QUEUE_LIMIT`` packets), events are
    dropped with a warning; ``session_ended`` is always attempted by :meth:`aclose`.
    """

    def __init__(self, *, publisher: _Publisher, participant: str, session_id: str) -> None:
        self._publisher = publisher
        self._participant = participant
        self._session_id = session_id
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="omnivoice.event_relay")

    def publish(self, event: Event) -> None:
        packet = encode_event(event, participant=self._participant, session_id=self._session_id)
        try:
            self._queue.put_nowait(packet)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("event relay queue full; event dropped", extra={"type": str(event.type)})

    async def _run(self) -> None:
        while (packet := await self._queue.get()) is not None:
            try:
                await self._publisher.publish_data(packet, reliable=True, topic=EVENTS_TOPIC)
                self.sent += 1
            except Exception as exc:  # noqa: BLE001 -- reason: a closed room must not kill the session; counted and logged
                self.dropped += 1
                logger.warning("event relay publish failed", extra={"error": str(exc)})

    async def aclose(self, *, timeout_s: float = 2.0) -> None:
        """Flush queued events (up to ``timeout_s`` seconds), then stop the task."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout_s)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None


def is_terminal(event: Event) -> bool:
    return event.type is EventType.SESSION_ENDED
