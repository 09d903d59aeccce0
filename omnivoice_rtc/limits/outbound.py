"""The toll-fraud guard on every ``make_call`` route (carrier REST and SIP).

Before anything is dialled, :meth:`OutboundGuard.admit` checks, in order:

1. the destination against the allow-list of prefixes (``OMNIVOICE_OUTBOUND_ALLOW``).
   Fail closed: an empty list refuses every outbound call with a :class:`ConfigError`
   naming the setting; a destination outside the list gets a :class:`LimitError`
   (``limit="outbound_allow"``, not retryable). ``*`` allows any destination.
2. the rate: at most ``OMNIVOICE_OUTBOUND_CALLS_PER_MIN`` calls placed per minute
   (``LimitError``, ``limit="outbound_rate"``, with ``retry_after_s``);
3. concurrency: at most ``OMNIVOICE_MAX_OUTBOUND_CALLS`` in progress
   (``LimitError``, ``limit="outbound_concurrent"``).

Numbers are compared without spaces, dashes, dots, brackets or ``tel:``; a ``+`` prefix
also matches the same digits without it (Plivo and Vonage dial without ``+``). The lease
it returns holds one concurrency slot until :meth:`OutboundLease.release` (the call ended
or failed); the guard's :class:`~omnivoice_rtc.state.lease_keeper.LeaseKeeper` refreshes it
meanwhile, so a process that dies frees its slots within ``slot_ttl_s`` s.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Final

from omnivoice_rtc._errors import ConfigError, LimitError, ProviderError
from omnivoice_rtc.settings.limits import OutboundLimits
from omnivoice_rtc.state.lease_keeper import LeaseKeeper
from omnivoice_rtc.state.memory import MemoryStateStore
from omnivoice_rtc.state.store import StateStore

__all__ = ["OutboundGuard", "OutboundLease", "normalise_destination"]

logger = logging.getLogger(__name__)

_RATE_KEY: Final = "outbound:rate"
_CALLS_KEY: Final = "outbound:calls"
_PHONE: Final = re.compile(r"\+?[0-9]+")
_SEPARATORS: Final = re.compile(r"[\s\-.()]")
DEFAULT_SLOT_TTL_S: Final = 120.0


def normalise_destination(to: str) -> str:
    """``to`` as compared with the allow-list (separators and ``tel:`` removed)."""
    text = to.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    candidate = _SEPARATORS.sub("", text)
    return candidate if _PHONE.fullmatch(candidate) else text


def _allowed(destination: str, prefix: str) -> bool:
    if prefix == "*":
        return True
    prefix = normalise_destination(prefix)
    if destination.startswith(prefix):
        return True
    both_numbers = _PHONE.fullmatch(destination) and _PHONE.fullmatch(prefix)
    return bool(both_numbers) and destination.lstrip("+").startswith(prefix.lstrip("+"))


@dataclass(slots=True)
class OutboundLease:
    """One admitted outbound call's concurrency slot; :meth:`release` it when the call ends."""

    guard: OutboundGuard
    holder: str
    released: bool = False

    async def release(self) -> None:
        """Give the slot back (once; later calls do nothing)."""
        if not self.released:
            self.released = True
            await self.guard._release(self.holder)


class OutboundGuard:
    """Admits outbound calls (see the module docstring). ``store`` is shared with the
    other limits (Redis: every replica counts together)."""

    def __init__(
        self,
        *,
        limits: OutboundLimits | None = None,
        store: StateStore | None = None,
        slot_ttl_s: float = DEFAULT_SLOT_TTL_S,
    ) -> None:
        self.limits = limits or OutboundLimits()
        self._store: StateStore = store if store is not None else MemoryStateStore()
        self._ttl = slot_ttl_s
        self._keeper = LeaseKeeper(interval_s=slot_ttl_s / 4)

    def check_destination(self, to: str) -> str:
        """The normalised destination, or ConfigError (no allow-list) / LimitError (not
        allowed)."""
        allow = self.limits.allow
        if not allow:
            raise ConfigError(
                "OMNIVOICE_OUTBOUND_ALLOW: outbound calls are refused until it lists the "
                "destination prefixes make_call may dial (e.g. +1415,+44; * for any)"
            )
        destination = normalise_destination(to)
        if not destination or not any(_allowed(destination, p) for p in allow):
            error = LimitError(
                "outbound call refused: the destination is not in OMNIVOICE_OUTBOUND_ALLOW",
                limit="outbound_allow",
            )
            error.retryable = False
            raise error
        return destination

    async def admit(self, to: str) -> OutboundLease:
        """Check ``to``, the rate and the concurrency; the lease holds one slot."""
        self.check_destination(to)
        limits = self.limits
        wait_s = await self._store.hit(_RATE_KEY, limit=limits.per_minute, window_s=60.0)
        if wait_s > 0:
            raise LimitError(
                f"outbound call refused: at most {limits.per_minute} per minute "
                "(OMNIVOICE_OUTBOUND_CALLS_PER_MIN)",
                limit="outbound_rate",
                retry_after_s=wait_s,
            )
        holder = secrets.token_hex(8)
        store, ttl = self._store, self._ttl
        if not await store.acquire_slot(_CALLS_KEY, holder, limit=limits.max_concurrent, ttl_s=ttl):
            raise LimitError(
                f"outbound call refused: {limits.max_concurrent} outbound calls are in "
                "progress (OMNIVOICE_MAX_OUTBOUND_CALLS)",
                limit="outbound_concurrent",
            )

        async def refresh() -> bool:
            return await store.refresh_slot(_CALLS_KEY, holder, ttl_s=ttl)

        self._keeper.keep(holder, refresh)
        return OutboundLease(guard=self, holder=holder)

    async def in_progress(self) -> int:
        """Outbound calls holding a slot now (every replica's, with Redis)."""
        return await self._store.count_slots(_CALLS_KEY)

    async def _release(self, holder: str) -> None:
        self._keeper.drop(holder)
        try:
            await self._store.release_slot(_CALLS_KEY, holder)
        except ProviderError as exc:  # store unreachable: the slot expires with its TTL
            logger.warning("outbound slot release failed", extra={"error": str(exc)})

    async def aclose(self) -> None:
        """Stop refreshing slots (a process ending: they expire unless released)."""
        await self._keeper.aclose()
