"""Relay session events to the room on topic ``omnivoice.events`` (the wire format is
:mod:`omnivoice_rtc.livekit.data_topics`): one owned task publishes them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, encode_event
from omnivoice_rtc.types import Event

__all__ = ["EventRelay"]

logger = logging.getLogger(__name__)

_QUEUE_LIMIT = 1000


class _Publisher(Protocol):
    async def publish_data(
        self, payload: bytes | str, *, reliable: bool = ..., topic: str = ...
    ) -> None: ...


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
