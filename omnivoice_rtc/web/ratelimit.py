"""A sliding-window rate limit keyed by client address, counted in the shared state store.

Used by ``/api/token``: every token dispatches an agent (CPU for the local pipeline,
money for OpenAI/Gemini), so an open endpoint must not mint them without bound. The
client address honours ``X-Forwarded-For`` only from ``OMNIVOICE_TRUSTED_PROXIES``
(:func:`omnivoice_rtc.limits.client_address`), so behind your proxy every client has its
own budget and nobody can pick one by forging the header. Counts live in the app's
:class:`~omnivoice_rtc.state.StateStore`: with ``OMNIVOICE_REDIS_URL`` every replica counts
together; in memory the tracked addresses are bounded (the least recently seen is forgotten
first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from omnivoice_rtc.limits.client_address import address_key, client_address
from omnivoice_rtc.settings.limits import IPNetwork
from omnivoice_rtc.state.store import StateStore

__all__ = ["AddressRateLimit"]


class AddressRateLimit:
    """At most ``limit`` hits per ``window_s`` seconds per client address; ``name`` keeps
    its counts apart from other limits in the same store."""

    def __init__(
        self,
        *,
        store: StateStore,
        name: str,
        limit: int,
        window_s: float,
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit: must be at least 1, got {limit}")
        if window_s <= 0:
            raise ValueError(f"window_s: must be positive, got {window_s}")
        if not name:
            raise ValueError("name: must not be empty")
        self.limit = limit
        self.window_s = window_s
        self._store = store
        self._name = name
        self._trusted = tuple(trusted_proxies)

    def client_of(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The client address of a request from TCP ``peer`` with ``headers``."""
        return client_address(peer, headers, self._trusted)

    async def hit(self, address: str) -> float:
        """Record a hit for ``address``; 0.0 if allowed, else seconds until one is allowed."""
        key = f"rate:{self._name}:{address_key(address)}"
        return await self._store.hit(key, limit=self.limit, window_s=self.window_s)
