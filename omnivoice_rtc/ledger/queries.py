"""Reading the ledger: list calls (filtered, newest first), one call with its transcript,
and retention (delete what is older than a cut-off)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from omnivoice_rtc.ledger.record import CallEventRecord, CallRecord, TurnRecord
from omnivoice_rtc.ledger.schema import (
    CallEventRow,
    CallRow,
    LiveKitWebhookRow,
    TurnRow,
    WebhookEventRow,
)
from omnivoice_rtc.ledger.store import CallLedger

__all__ = [
    "CallFilter",
    "PurgeCounts",
    "get_call",
    "list_calls",
    "purge_before",
    "to_record",
    "turn_record",
]

MAX_LIST: Final = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFilter:
    """Which calls to list: created in ``[since, until)``, of ``route`` / ``carrier``,
    ended for ``end_reason``, in ``status``; at most ``limit`` (newest first)."""

    since: datetime | None = None
    until: datetime | None = None
    route: str = ""
    carrier: str = ""
    end_reason: str = ""
    status: str = ""
    limit: int = 100
    offset: int = 0


def turn_record(t: TurnRow) -> TurnRecord:
    return TurnRecord(
        seq=t.seq,
        role=t.role,
        text=t.text,
        started_at=t.started_at,
        duration_ms=t.duration_ms,
        stt_ms=t.stt_ms,
        llm_ms=t.llm_ms,
        tts_ms=t.tts_ms,
        total_ms=t.total_ms,
        interrupted=t.interrupted,
        tool_calls=tuple(t.tool_calls.get("calls", [])),
    )


def to_record(
    row: CallRow, turns: list[TurnRow] | None = None, events: list[CallEventRow] | None = None
) -> CallRecord:
    return CallRecord(
        id=row.id,
        room_name=row.room_name,
        participant_identity=row.participant_identity,
        room_sid=row.room_sid,
        session_id=row.session_id,
        route=row.route,
        direction=row.direction,
        carrier=row.carrier,
        carrier_call_id=row.carrier_call_id,
        sip_call_id=row.sip_call_id,
        caller=row.caller,
        callee=row.callee,
        agent_identity=row.agent_identity,
        pipeline=row.pipeline,
        status=row.status,
        created_at=row.created_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        ended_by=row.ended_by,
        agent_reported=row.agent_reported,
        finalized_at=row.finalized_at,
        metrics=dict(row.metrics),
        counters=dict(row.counters),
        refs=dict(row.refs),
        sources=dict(row.sources),
        turns=tuple(turn_record(t) for t in turns or []),
        events=tuple(
            CallEventRecord(at=e.at, type=e.type, source=e.source, data=dict(e.data))
            for e in events or []
        ),
    )


async def list_calls(
    ledger: CallLedger, where: CallFilter, *, with_transcripts: bool = False
) -> list[CallRecord]:
    """Calls matching ``where``, newest first (transcripts only if asked)."""
    query = select(CallRow)
    if where.since is not None:
        query = query.where(CallRow.created_at >= where.since)
    if where.until is not None:
        query = query.where(CallRow.created_at < where.until)
    if where.route:
        query = query.where(CallRow.route == where.route)
    if where.carrier:
        query = query.where(CallRow.carrier == where.carrier)
    if where.end_reason:
        query = query.where(CallRow.end_reason == where.end_reason)
    if where.status:
        query = query.where(CallRow.status == where.status)
    limit = max(1, min(where.limit, MAX_LIST))
    query = query.order_by(CallRow.created_at.desc(), CallRow.id).limit(limit).offset(where.offset)
    async with ledger.sessions() as session:
        rows = list((await session.execute(query)).scalars())
        if not with_transcripts:
            return [to_record(row) for row in rows]
        return [await _full(session, row) for row in rows]


async def _full(session: AsyncSession, row: CallRow) -> CallRecord:
    turns = await session.execute(
        select(TurnRow).where(TurnRow.call_id == row.id).order_by(TurnRow.seq)
    )
    events = await session.execute(
        select(CallEventRow).where(CallEventRow.call_id == row.id).order_by(CallEventRow.id)
    )
    return to_record(row, list(turns.scalars()), list(events.scalars()))


async def get_call(ledger: CallLedger, ref: str) -> CallRecord | None:
    """The call whose record id, carrier call id, SIP call id, room name or agent session
    id is ``ref`` (the newest when several match), with transcript and events."""
    query = (
        select(CallRow)
        .where(
            or_(
                CallRow.id == ref,
                CallRow.carrier_call_id == ref,
                CallRow.sip_call_id == ref,
                CallRow.room_name == ref,
                CallRow.session_id == ref,
            )
        )
        .order_by(CallRow.created_at.desc())
        .limit(1)
    )
    async with ledger.sessions() as session:
        row = (await session.execute(query)).scalar_one_or_none()
        return None if row is None else await _full(session, row)


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    calls: int
    livekit_webhooks: int


async def purge_before(ledger: CallLedger, cutoff: datetime) -> PurgeCounts:
    """Delete calls created before ``cutoff`` with their turns, events and webhook
    deliveries (foreign keys cascade), and old LiveKit webhook ids."""
    async with ledger.transaction() as session:
        old = select(CallRow.id).where(CallRow.created_at < cutoff)
        ids = list((await session.execute(old)).scalars())
        for table in (TurnRow, CallEventRow):  # explicit too: SQLite cascades need the pragma
            await session.execute(delete(table).where(table.call_id.in_(old)))
        await session.execute(delete(WebhookEventRow).where(WebhookEventRow.call_id.in_(old)))
        await session.execute(delete(CallRow).where(CallRow.created_at < cutoff))
        hooks = await session.execute(
            delete(LiveKitWebhookRow).where(LiveKitWebhookRow.received_at < cutoff)
        )
        return PurgeCounts(calls=len(ids), livekit_webhooks=_rowcount(hooks))


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return int(count) if isinstance(count, int) and count > 0 else 0
