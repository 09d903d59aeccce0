"""DialledCalls: the calls ``make_call`` placed, until their stream comes or never does.

Each dialled call holds its :class:`~omnivoice_rtc.limits.outbound.OutboundLease` (one of
``OMNIVOICE_MAX_OUTBOUND_CALLS``) from the dial until the call ends. A call whose stream
has not come ``grace_s`` s after its stream token expired is dropped (session closed with
``no_stream``, lease released): nothing is left pending forever when the carrier never
connects.

Replicas (``store`` shared in Redis): each dialled call is also recorded in the store
(``dialled:<pending id>``: call id, parties, agent), so the carrier's answer webhook
(Plivo fetches it with ``?pending=``) and its media stream may reach any replica. The
replica whose stream takes the record builds the call's session from it; the dialling
replica keeps the call's outbound slot while the call is live anywhere (its claim in the
live-call registry, ``is_live``) and releases it once it is not.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from omnivoice_rtc._errors import ProviderError
from omnivoice_rtc.limits.outbound import OutboundLease
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.state.store import StateStore
from omnivoice_rtc.types import CallInfo

__all__ = ["DialledCall", "DialledCalls"]

logger = logging.getLogger(__name__)

GRACE_S: Final = 5.0
"""A dialled call whose stream has not come this long after its token expired is dropped."""
_PREFIX: Final = "dialled:"
_RECORD_EXTRA_S: Final = 60.0
"""A shared record outlives the dialling replica's deadline by this much (s), so that its
absence there means "taken by a stream", never "expired"."""

IsLive = Callable[[str], Awaitable[bool]]
NewSession = Callable[[CallInfo], PstnSession]
"""Builds the session of a call another replica dialled (with this gateway's call control)."""
"""``async (call id) -> live?``: whether a replica serves the call now."""


@dataclass(slots=True, kw_only=True)
class _Dialled:
    session: PstnSession
    lease: OutboundLease
    deadline: float
    """Event-loop time (s) after which the call is dropped (or, streamed elsewhere, checked)."""
    agent_name: str = ""
    elsewhere: bool = False
    """Its stream reached another replica: the slot is kept while the call lives there."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DialledCall:
    """A dialled call whose stream came: its session, the outbound slot when this replica
    dialled it (None: the dialling replica keeps it) and the agent it asked for."""

    session: PstnSession
    lease: OutboundLease | None
    agent_name: str


class DialledCalls:
    """Dialled calls by pending id (the stream token's call id) and the leases of the
    dialled calls that are bridged, by their call lease's owner token (see the module
    docstring). ``store``: where other replicas find them (None: this process only)."""

    __slots__ = ("_bridged", "_is_live", "_new_session", "_pending", "_store")

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        is_live: IsLive | None = None,
        new_session: NewSession | None = None,
    ) -> None:
        self._pending: dict[str, _Dialled] = {}
        self._new_session: NewSession = new_session or (lambda call: PstnSession(call=call))
        self._bridged: dict[str, OutboundLease] = {}
        self._store = store
        self._is_live = is_live

    def __contains__(self, pending_id: object) -> bool:
        return pending_id in self._pending

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def add(
        self,
        pending_id: str,
        session: PstnSession,
        lease: OutboundLease,
        ttl_s: float,
        *,
        agent_name: str = "",
    ) -> None:
        """A call just dialled; its stream token lives ``ttl_s`` s."""
        deadline = self._now() + ttl_s + GRACE_S
        self._pending[pending_id] = _Dialled(
            session=session, lease=lease, deadline=deadline, agent_name=agent_name
        )
        if self._store is not None:
            call = session.call
            record = {
                "call_id": call.call_id,
                "from": call.from_,
                "to": call.to,
                "carrier": call.carrier,
                "agent": agent_name,
            }
            await self._store.put_if_absent(
                _PREFIX + pending_id, json.dumps(record), ttl_s=ttl_s + GRACE_S + _RECORD_EXTRA_S
            )

    async def is_pending(self, pending_id: str) -> bool:
        """Whether ``pending_id`` is a call dialled here or by another replica, unanswered."""
        if pending_id in self._pending:
            return True
        return await self._record(pending_id, take=False) is not None

    async def call_id_of(self, pending_id: str) -> str | None:
        """The call id of the dialled call ``pending_id`` (None: not a pending dialled call)."""
        dialled = self._pending.get(pending_id)
        if dialled is not None:
            return dialled.session.id
        record = await self._record(pending_id, take=False)
        return None if record is None else record.call.call_id

    async def take(self, pending_id: str) -> DialledCall | None:
        """The dialled call whose stream came (no longer pending, here or anywhere)."""
        dialled = self._pending.pop(pending_id, None)
        shared = await self._record(pending_id, take=True)
        if dialled is not None:
            return DialledCall(
                session=dialled.session, lease=dialled.lease, agent_name=dialled.agent_name
            )
        if shared is None:
            return None
        return DialledCall(
            session=self._new_session(shared.call), lease=None, agent_name=shared.agent
        )

    async def _record(self, pending_id: str, *, take: bool) -> _Record | None:
        if self._store is None:
            return None
        key = _PREFIX + pending_id
        try:
            raw = await (self._store.take(key) if take else self._store.get(key))
        except ProviderError as exc:  # store unreachable: this replica's own calls still work
            logger.warning("dialled call record unavailable", extra={"error": str(exc)})
            return None
        return None if raw is None else _Record.parse(raw)

    async def purge(self) -> list[PstnSession]:
        """Drop the calls whose stream never came; returns the sessions no longer served
        here (closed: ``no_stream``, or ``streamed_elsewhere`` when the stream reached another
        replica, whose call keeps its slot while it is live there)."""
        now = self._now()
        expired = [(k, d) for k, d in self._pending.items() if d.deadline <= now]
        gone: list[PstnSession] = []
        for pending_id, dialled in expired:
            known_elsewhere = dialled.elsewhere
            live_elsewhere = await self._streamed_elsewhere(pending_id, dialled)
            if dialled.elsewhere and not known_elsewhere:
                gone.append(dialled.session)
            if live_elsewhere:
                dialled.deadline = now + GRACE_S  # look again later
                continue
            del self._pending[pending_id]
            if not dialled.elsewhere:
                dialled.session.mark_closed("no_stream")
                gone.append(dialled.session)
            await dialled.lease.release()
        return gone

    async def _streamed_elsewhere(self, pending_id: str, dialled: _Dialled) -> bool:
        """True while the call's stream is live on another replica."""
        if self._store is None or self._is_live is None:
            return False
        if not dialled.elsewhere:
            if await self._record(pending_id, take=True) is not None:
                return False  # nobody took it: the stream never came
            dialled.elsewhere = True
            dialled.session.mark_closed("streamed_elsewhere")
        try:
            return await self._is_live(dialled.session.id)
        except ProviderError:  # store unreachable: keep the slot, look again later
            return True

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


@dataclass(frozen=True, slots=True)
class _Record:
    call: CallInfo
    agent: str

    @classmethod
    def parse(cls, raw: str) -> _Record | None:
        try:
            data = json.loads(raw)
            call = CallInfo(
                call_id=str(data["call_id"]),
                from_=str(data["from"]),
                to=str(data["to"]),
                direction="outbound",
                carrier=str(data["carrier"]),
            )
            return cls(call=call, agent=str(data.get("agent", "")))
        except (ValueError, KeyError, TypeError):
            logger.warning("dialled call record unreadable")
            return None
