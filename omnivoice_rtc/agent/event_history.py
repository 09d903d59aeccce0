"""EventHistory: the events a session emitted, replayed to every reader from the first.

Each :meth:`EventHistory.iterate` call gets its own iterator that yields every event
from the first one and ends after ``session_ended`` (or once the history is closed and
read). At most ``limit`` events are kept; ``session_ended`` is always kept.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

from omnivoice_rtc.types import Event, EventType

__all__ = ["HISTORY_LIMIT", "EventHistory"]

HISTORY_LIMIT = 10_000
"""Events kept per session (the rest are relayed and counted, not replayed)."""


class EventHistory:
    """Append-only event list with waiting readers (one event loop)."""

    def __init__(self, *, limit: int = HISTORY_LIMIT) -> None:
        self._events: list[Event] = []
        self._limit = limit
        self._changed = asyncio.Condition()
        self._ended = False

    def append(self, event: Event) -> None:
        """Keep ``event`` (readers are woken by :meth:`notify`)."""
        if len(self._events) < self._limit or event.type is EventType.SESSION_ENDED:
            self._events.append(event)
        if event.type is EventType.SESSION_ENDED:
            self._ended = True

    def end(self) -> None:
        """No more events will come (readers finish once they have read everything)."""
        self._ended = True

    async def notify(self) -> None:
        """Wake the readers."""
        async with self._changed:
            self._changed.notify_all()

    def _has_news(self, index: int) -> bool:
        return index < len(self._events) or self._ended

    async def iterate(self) -> AsyncIterator[Event]:
        index = 0
        while True:
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._has_news, index))
                batch = self._events[index:]
            for event in batch:
                yield event
                if event.type is EventType.SESSION_ENDED:
                    return
            index += len(batch)
            if self._ended and index >= len(self._events):
                return
