"""LiveCallRegistry: which replica owns which live call (call id -> owner, with a TTL).

A media stream claims its call before anything joins a room; a second stream for a call
that already has a live owner is refused (close 1008), so it can never join the call's
room under the caller's identity and cut the live caller off. The owner refreshes its
claim while the call lives (:meth:`refresh`, every ``ttl_s / 3`` s); a replica that dies
stops refreshing and its claims expire after ``ttl_s`` s. Issue 15 extends this registry
(call-control actions routed to the owning replica).
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import Final

from omnivoice_rtc.state.store import StateStore

__all__ = ["DEFAULT_CLAIM_TTL_S", "LiveCallRegistry", "new_replica_id"]

DEFAULT_CLAIM_TTL_S: Final = 60.0
"""Seconds a claim outlives its last refresh."""


def new_replica_id() -> str:
    """``<host>-<pid>-<4 hex>``: unique per process start."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(2)}"


def _key(carrier: str, call_id: str) -> str:
    return f"live:{carrier}:{call_id}"


class LiveCallRegistry:
    """Live calls in ``store`` (see the module docstring); ``replica_id`` names this process."""

    __slots__ = ("_store", "_ttl", "replica_id")

    def __init__(
        self, *, store: StateStore, replica_id: str = "", ttl_s: float = DEFAULT_CLAIM_TTL_S
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"LiveCallRegistry.ttl_s: must be > 0 s, got {ttl_s!r}")
        self._store = store
        self._ttl = ttl_s
        self.replica_id = replica_id or new_replica_id()

    @property
    def ttl_s(self) -> float:
        return self._ttl

    def owner_token(self, nonce: str) -> str:
        """The value a claim holds: ``<replica id>/<nonce>`` (the nonce tells two streams of
        one replica apart)."""
        return f"{self.replica_id}/{nonce}"

    async def claim(self, carrier: str, call_id: str, owner: str) -> bool:
        """Record ``owner`` (an :meth:`owner_token`) as the live owner of the call; False when
        the call already has a live owner."""
        return await self._store.put_if_absent(_key(carrier, call_id), owner, ttl_s=self._ttl)

    async def refresh(self, carrier: str, call_id: str, owner: str) -> bool:
        """Keep ``owner``'s claim alive for another ``ttl_s`` s; False when it lost it."""
        return await self._store.expire_if(_key(carrier, call_id), owner, ttl_s=self._ttl)

    async def release(self, carrier: str, call_id: str, owner: str) -> None:
        """End ``owner``'s claim (another owner's claim is left alone)."""
        await self._store.delete_if(_key(carrier, call_id), owner)

    def is_ours(self, owner: str) -> bool:
        """Whether the owner token ``owner`` (from :meth:`owner_of`) is this replica's."""
        return owner.startswith(self.replica_id + "/")

    async def owner_of(self, carrier: str, call_id: str) -> str | None:
        """The owner token of the live call, None when it has none."""
        return await self._store.get(_key(carrier, call_id))
