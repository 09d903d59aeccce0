"""The :class:`StateStore` protocol: exactly what call setup needs from shared state.

Five kinds of state, each with its own operations (a store keeps them apart, so a key of
one kind never collides with a key of another):

=========================  ================================================  ============================
kind                       operations                                        used for
=========================  ================================================  ============================
values with a TTL          ``put_if_absent`` (SET NX PX), ``get``,            answered call ids, Plivo
                           ``take`` (GETDEL), ``expire_if`` /                 nonces, Vonage ``jti``,
                           ``delete_if`` (compare-and-set on the value)       stream tokens, live calls
sliding-window counters    ``hit``                                            rate limits
counted slots with a TTL   ``acquire_slot`` / ``refresh_slot`` /              concurrent sockets, calls,
                           ``release_slot`` / ``count_slots``                 pending tokens per source
=========================  ================================================  ============================

Every TTL and window is in seconds (float). A slot's holder keeps it by refreshing it
before its TTL runs out; a process that dies stops refreshing and its slots expire. Two
implementations: :class:`~omnivoice_rtc.state.memory.MemoryStateStore` (one process, the
default, bounded) and :class:`~omnivoice_rtc.state.redis_store.RedisStateStore`
(``OMNIVOICE_REDIS_URL``; every replica sees the same state). Both are tested against the
same suite (tests/unit/state/test_store.py).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["StateStore"]


@runtime_checkable
class StateStore(Protocol):
    """Shared call-setup state (see the module docstring). Keys are printable strings."""

    async def put_if_absent(self, key: str, value: str, *, ttl_s: float) -> bool:
        """Store ``value`` under ``key`` for ``ttl_s`` s unless the key holds a live value;
        True when stored. Raises LimitError when a bounded store is full."""
        ...

    async def get(self, key: str) -> str | None:
        """The live value of ``key`` (None when absent or expired)."""
        ...

    async def take(self, key: str) -> str | None:
        """Remove ``key`` and return its live value, atomically: of two concurrent takes
        exactly one gets the value."""
        ...

    async def expire_if(self, key: str, value: str, *, ttl_s: float) -> bool:
        """Give ``key`` a new TTL of ``ttl_s`` s if it holds ``value``; True when it did."""
        ...

    async def delete_if(self, key: str, value: str) -> bool:
        """Remove ``key`` if it holds ``value``; True when it did."""
        ...

    async def hit(self, key: str, *, limit: int, window_s: float) -> float:
        """Count one event for ``key`` unless ``limit`` events were counted in the last
        ``window_s`` s: 0.0 when counted, else the seconds until one more is allowed."""
        ...

    async def acquire_slot(self, key: str, holder: str, *, limit: int, ttl_s: float) -> bool:
        """Take one of ``limit`` slots of ``key`` for ``holder`` for ``ttl_s`` s (a holder
        that has one already just refreshes it); False when all are taken."""
        ...

    async def refresh_slot(self, key: str, holder: str, *, ttl_s: float) -> bool:
        """Extend ``holder``'s slot of ``key`` to ``ttl_s`` s from now; False if it has none
        (expired or released)."""
        ...

    async def release_slot(self, key: str, holder: str) -> None:
        """Give ``holder``'s slot of ``key`` back (nothing when it has none)."""
        ...

    async def count_slots(self, key: str) -> int:
        """How many live slots of ``key`` are held."""
        ...

    async def aclose(self) -> None:
        """Release connections (the memory store has none)."""
        ...
