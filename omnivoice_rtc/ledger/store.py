"""CallLedger: the writes every process makes, and the reads every reader needs.

Each write is one short transaction that locks the call's row (PostgreSQL
``SELECT … FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``), so writers in different
processes merge their facts without lost updates (:mod:`.facts` says how). Reads are in
:mod:`.queries`; the sweep that announces and closes records in :mod:`.finalizer`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from omnivoice_rtc.ledger.engine import create_engine, migrate
from omnivoice_rtc.ledger.facts import END_SOURCE_RANK, CallOpened, TurnFact
from omnivoice_rtc.ledger.keys import ended_by_for
from omnivoice_rtc.ledger.schema import CallEventRow, CallRow, TurnRow
from omnivoice_rtc.logs import pii

__all__ = ["CallLedger", "utc_now"]

logger = logging.getLogger("omnivoice_rtc.ledger")

_FILLABLE = (
    "room_sid",
    "session_id",
    "carrier",
    "carrier_call_id",
    "sip_call_id",
    "caller",
    "callee",
    "agent_identity",
    "pipeline",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


class CallLedger:
    """The call ledger on one database (see the module docstring).

    ``await CallLedger.open(url)`` creates the engine and migrates the schema;
    ``await ledger.aclose()`` disposes of it.
    """

    def __init__(self, *, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str, *, run_migrations: bool = True) -> CallLedger:
        engine = create_engine(url)
        try:
            if run_migrations:
                await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine=engine)

    async def aclose(self) -> None:
        await self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    # ------------------------------------------------------------------ calls

    async def _ensure(self, session: AsyncSession, fact: CallOpened) -> None:
        values = {
            "id": fact.call_id,
            "room_name": fact.room_name,
            "participant_identity": fact.participant_identity,
            "route": fact.parties.route,
            "direction": fact.parties.direction,
            "status": "active",
            "created_at": fact.created_at,
            "updated_at": fact.created_at,
            "end_reason": "",
            "ended_by": "",
            "end_source": "",
            "agent_reported": False,
            "started_announced": False,
            "answered_announced": False,
            "metrics": {},
            "counters": {},
            "refs": {},
            "sources": {},
            **{name: "" for name in _FILLABLE},
        }
        table = CallRow.__table__
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        insert = dialect.insert(table).values(values).on_conflict_do_nothing(index_elements=["id"])
        await session.execute(insert)

    async def _locked(self, session: AsyncSession, call_id: str) -> CallRow | None:
        result = await session.execute(
            select(CallRow).where(CallRow.id == call_id).with_for_update()
        )
        return result.scalar_one_or_none()

    async def open_call(self, fact: CallOpened) -> str:
        """Create the call's record, or fill in what it did not know yet; returns its id."""
        async with self.transaction() as session:
            await self._ensure(session, fact)
            row = await self._locked(session, fact.call_id)
            assert row is not None  # reason: inserted or present in this transaction
            created = not row.sources
            parties = fact.parties
            known = {
                "room_sid": fact.room_sid,
                "session_id": fact.session_id,
                "carrier": parties.carrier,
                "carrier_call_id": parties.carrier_call_id,
                "sip_call_id": parties.sip_call_id,
                "caller": parties.caller,
                "callee": parties.callee,
                "agent_identity": fact.agent_identity,
                "pipeline": fact.pipeline,
            }
            for name, value in known.items():
                if value and not getattr(row, name):
                    setattr(row, name, value)
            if parties.carrier not in ("", "sip") and row.carrier == "sip":
                # "sip" is the placeholder of a SIP participant seen before livekit-sip added
                # the dispatch rule's omnivoice.carrier attribute: a later writer knows better
                row.carrier = parties.carrier
            if fact.source in ("shim", "sip_gateway"):  # the route knows best
                row.route = parties.route
                row.direction = parties.direction
            if fact.created_at < row.created_at:
                row.created_at = fact.created_at
            self._touch(row, fact.source)
        if created:
            logger.info(
                "call event",
                extra={
                    "call_id": fact.call_id,
                    "event": "started",
                    "route": parties.route,
                    "carrier": parties.carrier,
                    "direction": parties.direction,
                    "source": fact.source,
                    **pii(caller=parties.caller, callee=parties.callee),
                },
            )
        return fact.call_id

    @staticmethod
    def _touch(row: CallRow, source: str) -> None:
        now = utc_now()
        row.updated_at = now
        row.sources = {**row.sources, source: now.isoformat(timespec="milliseconds")}

    async def mark_answered(self, call_id: str, *, at: datetime, source: str) -> None:
        """The call was answered at ``at`` (the earliest report wins)."""
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is None:
                return
            first = row.answered_at is None
            if first or (row.answered_at is not None and at < row.answered_at):
                row.answered_at = at
            self._touch(row, source)
        if first:
            logger.info(
                "call event", extra={"call_id": call_id, "event": "answered", "source": source}
            )

    async def mark_ended(
        self,
        call_id: str,
        *,
        at: datetime,
        reason: str,
        source: str,
        ended_by: str = "",
    ) -> None:
        """The call ended at ``at`` for ``reason``. The earliest time wins; the reason of
        the best-placed writer wins (:data:`~.facts.END_SOURCE_RANK`). A final record
        (already announced) keeps its end."""
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is None:
                return
            first = self._apply_end(row, at=at, reason=reason, source=source, ended_by=ended_by)
        if first:
            self._log_end(call_id, reason=reason, source=source, ended_by=ended_by)

    def _apply_end(
        self, row: CallRow, *, at: datetime, reason: str, source: str, ended_by: str
    ) -> bool:
        """Merge one end fact into ``row``; True when it is the first."""
        first = row.ended_at is None
        if row.status != "final":
            if row.ended_at is None or at < row.ended_at:
                row.ended_at = at
            if first or END_SOURCE_RANK.get(source, 0) > END_SOURCE_RANK.get(row.end_source, 0):
                row.end_reason = reason
                row.ended_by = ended_by or ended_by_for(reason)
                row.end_source = source
            if row.status == "active":
                row.status = "ended"
        self._touch(row, source)
        return first

    @staticmethod
    def _log_end(call_id: str, *, reason: str, source: str, ended_by: str) -> None:
        logger.info(
            "call event",
            extra={
                "call_id": call_id,
                "event": "ended",
                "reason": reason,
                "ended_by": ended_by or ended_by_for(reason),
                "source": source,
            },
        )

    async def agent_report(
        self, call_id: str, *, metrics: dict[str, Any], at: datetime, reason: str
    ) -> None:
        """The agent's final report: its Go ``Metrics``; the call ended for ``reason``
        (one transaction: a sweep never sees the report without its end)."""
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is None:
                return
            row.metrics = dict(metrics)
            row.agent_reported = True
            first = self._apply_end(row, at=at, reason=reason, source="agent", ended_by="")
        if first:
            self._log_end(call_id, reason=reason, source="agent", ended_by="")

    async def set_counters(self, call_id: str, counters: dict[str, Any], *, source: str) -> None:
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is not None:
                row.counters = {**row.counters, **counters}
                self._touch(row, source)

    async def add_reference(self, call_id: str, kind: str, data: dict[str, Any]) -> None:
        """Attach a reference (``kind`` e.g. ``transfers`` or ``recordings``) to the call."""
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is None:
                raise KeyError(call_id)
            row.refs = {**row.refs, kind: [*row.refs.get(kind, []), data]}
            self._touch(row, "call_control")

    async def _rooms_calls(self, session: AsyncSession, room_name: str) -> list[CallRow]:
        result = await session.execute(
            select(CallRow)
            .where(CallRow.room_name == room_name, CallRow.finalized_at.is_(None))
            .with_for_update()
        )
        return list(result.scalars())

    async def agent_left(self, room_name: str, *, at: datetime) -> list[str]:
        """The agent left ``room_name``: its open calls cannot expect a report much longer."""
        async with self.transaction() as session:
            rows = await self._rooms_calls(session, room_name)
            for row in rows:
                if row.agent_left_at is None:
                    row.agent_left_at = at
                    self._touch(row, "livekit_webhook")
            return [row.id for row in rows]

    async def room_finished(self, room_name: str, *, at: datetime) -> list[str]:
        """``room_name`` is gone: every call still on in it has ended."""
        async with self.transaction() as session:
            rows = await self._rooms_calls(session, room_name)
            for row in rows:
                row.room_finished_at = at
        ids = [row.id for row in rows]
        for call_id in ids:
            await self.mark_ended(call_id, at=at, reason="room_finished", source="livekit_webhook")
        return ids

    # ------------------------------------------------------------------ transcript, events

    async def add_turn(self, call_id: str, turn: TurnFact) -> int:
        """Append a turn; returns its sequence number (0 for the first)."""
        async with self.transaction() as session:
            row = await self._locked(session, call_id)
            if row is None:
                raise KeyError(call_id)
            last = await session.scalar(
                select(func.max(TurnRow.seq)).where(TurnRow.call_id == call_id)
            )
            seq = 0 if last is None else last + 1
            session.add(
                TurnRow(
                    call_id=call_id,
                    seq=seq,
                    role=turn.role,
                    text=turn.text,
                    started_at=turn.started_at,
                    duration_ms=turn.duration_ms,
                    stt_ms=turn.stt_ms,
                    llm_ms=turn.llm_ms,
                    tts_ms=turn.tts_ms,
                    total_ms=turn.total_ms,
                    interrupted=turn.interrupted,
                    tool_calls={"calls": list(turn.tool_calls)},
                    announced=False,
                )
            )
            row.updated_at = utc_now()
        logger.info(
            "call event",
            extra={
                "call_id": call_id,
                "event": "turn",
                "role": turn.role,
                "seq": seq,
                "total_ms": turn.total_ms,
                **pii(text=turn.text),
            },
        )
        return seq

    async def add_event(
        self, call_id: str, *, type: str, at: datetime, source: str, data: dict[str, Any]
    ) -> None:
        """Record an event of the call (``dtmf``, ``tool_call``, ``error``, …)."""
        async with self.transaction() as session:
            session.add(CallEventRow(call_id=call_id, at=at, type=type, source=source, data=data))
        shown = {k: v for k, v in data.items() if k not in ("digit", "text", "arguments", "result")}
        # the event's fields under "data": a key such as a tool's "name" may not overwrite
        # the LogRecord's own attributes (logging raises KeyError for those)
        extra: dict[str, Any] = {"call_id": call_id, "event": type, "source": source, "data": shown}
        if "digit" in data:
            extra.update(pii(digit=data["digit"]))
        logger.info("call event", extra=extra)
