"""DialledCalls: the calls ``make_call`` placed, until their stream comes or never does.

Each dialled call holds its :class:`~omnivoice_rtc.limits.outbound.OutboundLease` (one of
``OMNIVOICE_MAX_OUTBOUND_CALLS``) from the dial until the call ends. A call whose stream
has not come ``grace_s`` s after its stream token expired is dropped (session closed with
``no_stream``, lease released): nothing is left pending forever when the carrier never
connects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from omnivoice_rtc.limits.outbound import OutboundLease
from omnivoice_rtc.shim.pstn_session import PstnSession

__all__ = ["DialledCalls"]

GRACE_S: Final = 5.0
"""A dialled call whose stream has not come this long after its token expired is dropped."""


@dataclass(slots=True, kw_only=True)
class _Dialled:
    session: PstnSession
    lease: OutboundLease
    deadline: float
    """Event-loop time (s) after which the call is dropped."""


class DialledCalls:
    """Dialled calls by pending id (the stream token's call id) and the leases of the
    dialled calls that are bridged, by their call lease's owner token."""

    __slots__ = ("_bridged", "_pending")

    def __init__(self) -> None:
        self._pending: dict[str, _Dialled] = {}
        self._bridged: dict[str, OutboundLease] = {}

    def __contains__(self, pending_id: object) -> bool:
        return pending_id in self._pending

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def add(
        self, pending_id: str, session: PstnSession, lease: OutboundLease, ttl_s: float
    ) -> None:
        """A call just dialled; its stream token lives ``ttl_s`` s."""
        deadline = self._now() + ttl_s + GRACE_S
        self._pending[pending_id] = _Dialled(session=session, lease=lease, deadline=deadline)

    def session(self, pending_id: str) -> PstnSession | None:
        dialled = self._pending.get(pending_id)
        return dialled.session if dialled is not None else None

    def take(self, pending_id: str) -> tuple[PstnSession, OutboundLease] | None:
        """The dialled call whose stream came (no longer pending)."""
        dialled = self._pending.pop(pending_id, None)
        return (dialled.session, dialled.lease) if dialled is not None else None

    async def purge(self) -> list[PstnSession]:
        """Drop the calls whose stream never came; returns their (closed) sessions."""
        now = self._now()
        expired = [(k, d) for k, d in self._pending.items() if d.deadline <= now]
        for pending_id, dialled in expired:
            del self._pending[pending_id]
            dialled.session.mark_closed("no_stream")
        for _, dialled in expired:
            await dialled.lease.release()
        return [dialled.session for _, dialled in expired]

    def bridged(self, owner: str, lease: OutboundLease) -> None:
        """The dialled call is bridged under the call lease ``owner``."""
        self._bridged[owner] = lease

    async def ended(self, owner: str) -> None:
        """The bridged call ``owner`` ended: its outbound slot is free."""
        lease = self._bridged.pop(owner, None)
        if lease is not None:
            await lease.release()

    async def aclose(self, reason: str) -> None:
        """Drop every pending call (sessions closed with ``reason``, slots released)."""
        pending, self._pending = list(self._pending.values()), {}
        for dialled in pending:
            dialled.session.mark_closed(reason)
            await dialled.lease.release()
