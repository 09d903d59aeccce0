"""The sweep that announces calls and closes their records (run by the web server).

Writers only record facts; :class:`CallSweeper` turns them into announcements, once per
call whatever the number of writers or web replicas (each step is a conditional
``UPDATE`` whose winner also writes the webhook events, in the same transaction):

* a new call → ``call.started``; an answered one → ``call.answered``; each turn →
  ``call.turn`` (only when that event is wanted);
* a call that ended is *finalized* once the agent's final report is in, or once
  ``report_wait_s`` passed without it (a dead agent; only a few seconds when LiveKit
  already said the agent or the room is gone); its metrics are then rebuilt from the
  recorded turns if the agent never reported, and ``call.ended`` carries the record.

Finalized records are handed to ``on_final`` (Prometheus, logs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnivoice_rtc.ledger.queries import to_record, turn_record
from omnivoice_rtc.ledger.record import CallRecord
from omnivoice_rtc.ledger.schema import CallEventRow, CallRow, TurnRow
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.webhooks.outbox import enqueue

__all__ = ["AGENT_GONE_WAIT_S", "CallSweeper", "SweepResult", "metrics_from_turns"]

AGENT_GONE_WAIT_S: Final = 3.0
"""Report wait (s) once LiveKit said the agent left or the room is gone."""
_BATCH: Final = 100


def _avg(values: Sequence[int | None]) -> int:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present)) if present else 0


def metrics_from_turns(row: CallRow, turns: Sequence[TurnRow]) -> dict[str, Any]:
    """The Go ``Metrics`` (ms) rebuilt from recorded turns, for a call whose agent never
    sent its final report."""
    end = row.ended_at or utc_now()
    tool_calls = sum(len(t.tool_calls.get("calls", [])) for t in turns)
    return {
        "session_duration_ms": max(0, round((end - row.created_at).total_seconds() * 1000)),
        "turn_count": len(turns),
        "user_speech_duration_ms": sum(t.duration_ms for t in turns if t.role == "user"),
        "agent_speech_duration_ms": sum(t.duration_ms for t in turns if t.role == "agent"),
        "avg_stt_latency_ms": _avg([t.stt_ms for t in turns]),
        "avg_llm_latency_ms": _avg([t.llm_ms for t in turns]),
        "avg_tts_latency_ms": _avg([t.tts_ms for t in turns]),
        "avg_total_latency_ms": _avg([t.total_ms for t in turns]),
        "interruption_count": sum(1 for t in turns if t.interrupted),
        "tool_call_count": tool_calls,
        "error_count": 0,
        "audio_bytes_received": 0,
        "audio_bytes_sent": 0,
    }


@dataclass(slots=True)
class SweepResult:
    announced: int = 0
    finalized: list[CallRecord] = field(default_factory=list)


class CallSweeper:
    """Announces and finalizes calls (see the module docstring).

    ``endpoints`` are the webhook URLs events are written for (none: nothing is queued,
    records are still finalized); ``events`` the wanted event types.
    """

    def __init__(
        self,
        *,
        ledger: CallLedger,
        endpoints: Sequence[str] = (),
        events: Sequence[str] = ("call.started", "call.answered", "call.ended"),
        report_wait_s: float = 15.0,
        on_final: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._endpoints = tuple(endpoints)
        self._events = frozenset(events)
        self._report_wait_s = report_wait_s
        self._on_final = on_final or (lambda record: None)

    async def _queue(
        self, session: AsyncSession, event_type: str, call_id: str, data: dict[str, Any]
    ) -> int:
        if not self._endpoints or event_type not in self._events:
            return 0
        await enqueue(
            session,
            event_type=event_type,
            call_id=call_id,
            data=data,
            endpoints=self._endpoints,
            now=utc_now(),
        )
        return 1

    async def sweep(self) -> SweepResult:
        """One pass: announce, then finalize what is due."""
        result = SweepResult()
        result.announced += await self._announce("started", CallRow.started_announced, None)
        result.announced += await self._announce(
            "answered", CallRow.answered_announced, CallRow.answered_at.is_not(None)
        )
        if "call.turn" in self._events and self._endpoints:
            result.announced += await self._announce_turns()
        result.finalized = await self._finalize_due(utc_now())
        return result

    async def _announce(self, name: str, flag: Any, condition: Any) -> int:
        query = select(CallRow.id).where(flag.is_(False))
        if condition is not None:
            query = query.where(condition)
        queued = 0
        async with self._ledger.transaction() as session:
            for call_id in list((await session.execute(query.limit(_BATCH))).scalars()):
                won = await session.execute(
                    update(CallRow)
                    .where(CallRow.id == call_id, flag.is_(False))
                    .values({flag.key: True})
                )
                if getattr(won, "rowcount", 0) != 1:
                    continue
                row = await session.get(CallRow, call_id)
                if row is not None:
                    data = to_record(row).to_dict(transcript=False)
                    queued += await self._queue(session, f"call.{name}", call_id, data)
        return queued

    async def _announce_turns(self) -> int:
        queued = 0
        async with self._ledger.transaction() as session:
            query = select(TurnRow).where(TurnRow.announced.is_(False)).limit(_BATCH)
            for turn in list((await session.execute(query)).scalars()):
                won = await session.execute(
                    update(TurnRow)
                    .where(TurnRow.id == turn.id, TurnRow.announced.is_(False))
                    .values(announced=True)
                )
                if getattr(won, "rowcount", 0) == 1:
                    data = {"call_id": turn.call_id, "turn": turn_record(turn).to_dict()}
                    queued += await self._queue(session, "call.turn", turn.call_id, data)
        return queued

    def _due(self, row: CallRow, now: datetime) -> bool:
        if row.agent_reported:
            return True
        if row.ended_at is None:
            return False
        gone = row.agent_left_at is not None or row.room_finished_at is not None
        wait = min(self._report_wait_s, AGENT_GONE_WAIT_S) if gone else self._report_wait_s
        return now >= row.ended_at + timedelta(seconds=wait)

    async def _finalize_due(self, now: datetime) -> list[CallRecord]:
        done: list[CallRecord] = []
        async with self._ledger.transaction() as session:
            query = select(CallRow).where(CallRow.status == "ended").limit(_BATCH)
            for row in [r for r in (await session.execute(query)).scalars() if self._due(r, now)]:
                won = await session.execute(
                    update(CallRow)
                    .where(CallRow.id == row.id, CallRow.status == "ended")
                    .values(status="final", finalized_at=now)
                )
                if getattr(won, "rowcount", 0) != 1:
                    continue
                record = await self._final_record(session, row.id)
                await self._queue(session, "call.ended", row.id, record.to_dict())
                done.append(record)
        for record in done:
            self._on_final(record)
        return done

    async def _final_record(self, session: AsyncSession, call_id: str) -> CallRecord:
        row = await session.get(CallRow, call_id, populate_existing=True)
        assert row is not None  # reason: locked by the winning UPDATE above
        turns = list(
            (
                await session.execute(
                    select(TurnRow).where(TurnRow.call_id == call_id).order_by(TurnRow.seq)
                )
            ).scalars()
        )
        if not row.agent_reported:
            row.metrics = metrics_from_turns(row, turns)
        events = list(
            (
                await session.execute(
                    select(CallEventRow)
                    .where(CallEventRow.call_id == call_id)
                    .order_by(CallEventRow.id)
                )
            ).scalars()
        )
        return to_record(row, turns, events)
