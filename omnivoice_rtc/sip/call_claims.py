"""SIPCallClaims: the SIP calls this replica serves, claimed in the live-call registry.

Of several web replicas, the one that claims a SIP call (``live:sip:<call id>``) serves it:
its session, ledger records, agent liveness and call control
(:mod:`omnivoice_rtc.state.call_routing` finds it there). Claims are refreshed while held
(:class:`~omnivoice_rtc.state.lease_keeper.LeaseKeeper`, every third of their 60 s TTL), so
a replica that dies frees its calls for the others' reconcilers within a minute.
"""

from __future__ import annotations

import logging
import secrets
from typing import Final

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.state.call_registry import LiveCallRegistry
from omnivoice_rtc.state.lease_keeper import LeaseKeeper
from omnivoice_rtc.state.store import StateStore

__all__ = ["REGISTRY_ROUTE", "SIPCallClaims"]

logger = logging.getLogger(__name__)

REGISTRY_ROUTE: Final = "sip"
"""The route name of SIP calls in the live-call registry (``live:sip:<call id>``)."""


class SIPCallClaims:
    """Claims of SIP calls in ``store`` under ``replica_id`` (see the module docstring)."""

    def __init__(self, *, store: StateStore, replica_id: str = "") -> None:
        self.registry = LiveCallRegistry(store=store, replica_id=replica_id)
        self._keeper = LeaseKeeper(interval_s=self.registry.ttl_s / 3)
        self._owners: dict[str, str] = {}  # call id -> owner token

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._owners

    async def claim(self, call_id: str) -> bool:
        """Claim the call for this replica; False when another replica serves it.
        ProviderError when the store is unreachable."""
        owner = self.registry.owner_token(secrets.token_hex(6))
        if not await self.registry.claim(REGISTRY_ROUTE, call_id, owner):
            return False
        self._owners[call_id] = owner
        registry = self.registry

        async def refresh() -> bool:
            return await registry.refresh(REGISTRY_ROUTE, call_id, owner)

        self._keeper.keep(f"sip/{call_id}", refresh)
        return True

    async def release(self, call_id: str) -> None:
        """End this replica's claim of the call (nothing when it holds none)."""
        owner = self._owners.pop(call_id, None)
        if owner is None:
            return
        self._keeper.drop(f"sip/{call_id}")
        try:
            await self.registry.release(REGISTRY_ROUTE, call_id, owner)
        except ProviderError as exc:  # store unreachable: the claim expires with its TTL
            logger.warning(
                "sip call claim release failed", extra={"call_id": call_id, "error": str(exc)}
            )

    async def aclose(self) -> None:
        """Stop refreshing and release every claim (the calls go on; others adopt them)."""
        await self._keeper.aclose()
        for call_id in list(self._owners):
            await self.release(call_id)
