"""MemoryStateStore: the :class:`~omnivoice_rtc.state.store.StateStore` of one process.

The default when ``OMNIVOICE_REDIS_URL`` is not set. Not thread-safe (one event loop);
nothing here awaits, so every operation is atomic with respect to the loop. Bounded:

* values: at most ``max_keys`` live entries; expired ones are dropped first (a heap of
  deadlines, so a full store costs O(log n) per insert), then ``put_if_absent`` refuses
  with :class:`~omnivoice_rtc.LimitError` (``limit="state_store"``) instead of evicting
  anything: an entry here is a pending token or a replay record, and evicting one would
  either drop a legitimate call or let a replay through;
* counters: at most ``max_keys`` keys; the least recently used key is forgotten first
  (forgetting a count only ever lets one more request through);
* slot keys: at most ``max_keys`` keys with live holders; a new key beyond that is refused.

Time comes from ``clock`` (monotonic seconds, injectable for tests).
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from omnivoice_rtc._errors import LimitError

__all__ = ["DEFAULT_MAX_KEYS", "MemoryStateStore"]

DEFAULT_MAX_KEYS: Final = 200_000


class MemoryStateStore:
    """In-process state store (see the module docstring)."""

    __slots__ = ("_clock", "_deadlines", "_max", "_slots", "_values", "_windows")

    def __init__(
        self, *, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"MemoryStateStore.max_keys: must be >= 1, got {max_keys!r}")
        self._max = max_keys
        self._clock = clock
        self._values: dict[str, tuple[str, float]] = {}
        self._deadlines: list[tuple[float, str]] = []
        self._windows: OrderedDict[str, deque[float]] = OrderedDict()
        self._slots: dict[str, dict[str, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryStateStore(values={len(self._values)}, max_keys={self._max})"

    # ------------------------------------------------------------------ values

    def _live(self, key: str, now: float) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._values[key]
            return None
        return entry[0]

    def _purge(self, now: float) -> None:
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self._values.get(key)
            if entry is not None and entry[1] == deadline:
                del self._values[key]
        if len(heap) > 2 * len(self._values) + 1024:  # stale deadlines of refreshed keys
            self._deadlines = [(d, k) for k, (_, d) in self._values.items()]
            heapq.heapify(self._deadlines)

    def _set(self, key: str, value: str, deadline: float) -> None:
        self._values[key] = (value, deadline)
        heapq.heappush(self._deadlines, (deadline, key))

    async def put_if_absent(self, key: str, value: str, *, ttl_s: float) -> bool:
        now = self._clock()
        if self._live(key, now) is not None:
            return False
        self._purge(now)
        if len(self._values) >= self._max:
            raise LimitError(
                f"state store full: {self._max} entries (OMNIVOICE_STATE_MAX_KEYS)",
                limit="state_store",
                retry_after_s=1.0,
            )
        self._set(key, value, now + ttl_s)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key, self._clock())

    async def take(self, key: str) -> str | None:
        value = self._live(key, self._clock())
        if value is not None:
            del self._values[key]
        return value

    async def expire_if(self, key: str, value: str, *, ttl_s: float) -> bool:
        now = self._clock()
        if self._live(key, now) != value:
            return False
        self._set(key, value, now + ttl_s)
        return True

    async def delete_if(self, key: str, value: str) -> bool:
        if self._live(key, self._clock()) != value:
            return False
        del self._values[key]
        return True

    # ------------------------------------------------------------------ counters

    async def hit(self, key: str, *, limit: int, window_s: float) -> float:
        now = self._clock()
        hits = self._windows.get(key)
        if hits is None:
            hits = deque()
            self._windows[key] = hits
            while len(self._windows) > self._max:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= limit:
            return max(hits[0] + window_s - now, 0.001)
        hits.append(now)
        return 0.0

    # ------------------------------------------------------------------ slots

    def _holders(self, key: str, now: float) -> dict[str, float] | None:
        holders = self._slots.get(key)
        if holders is None:
            return None
        for holder in [h for h, deadline in holders.items() if deadline <= now]:
            del holders[holder]
        if not holders:
            del self._slots[key]
            return None
        return holders

    async def acquire_slot(self, key: str, holder: str, *, limit: int, ttl_s: float) -> bool:
        now = self._clock()
        holders = self._holders(key, now)
        if holders is None:
            if len(self._slots) >= self._max:
                for other in list(self._slots):  # drop keys whose holders all expired
                    self._holders(other, now)
                if len(self._slots) >= self._max:
                    return False
            holders = self._slots[key] = {}
        if holder not in holders and len(holders) >= limit:
            return False
        holders[holder] = now + ttl_s
        return True

    async def refresh_slot(self, key: str, holder: str, *, ttl_s: float) -> bool:
        now = self._clock()
        holders = self._holders(key, now)
        if holders is None or holder not in holders:
            return False
        holders[holder] = now + ttl_s
        return True

    async def release_slot(self, key: str, holder: str) -> None:
        holders = self._slots.get(key)
        if holders is not None:
            holders.pop(holder, None)
            if not holders:
                del self._slots[key]

    async def count_slots(self, key: str) -> int:
        holders = self._holders(key, self._clock())
        return 0 if holders is None else len(holders)

    async def aclose(self) -> None:
        """Nothing to release."""
