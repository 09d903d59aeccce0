"""The sweep: each call announced once even with two web replicas sweeping the same
database; records finalized on the agent's report, or without it once the wait is over;
metrics rebuilt from the turns when the agent never reported."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from omnivoice_rtc.ledger.finalizer import CallSweeper
from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.ledger.record import CallRecord
from omnivoice_rtc.ledger.schema import WebhookDeliveryRow, WebhookEventRow
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from tests.integration.ledger.helpers import browser_call, carrier_call, turn

pytestmark = pytest.mark.integration

ENDPOINTS = ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
EVENTS = ("call.started", "call.answered", "call.ended", "call.turn")


async def _events(ledger: CallLedger) -> list[tuple[str, str, dict[str, object]]]:
    async with ledger.sessions() as session:
        rows = (
            await session.execute(select(WebhookEventRow).order_by(WebhookEventRow.created_at))
        ).scalars()
        return [(r.type, r.call_id, json.loads(r.body)) for r in rows]


async def test_two_replicas_announce_each_call_once(ledger_url: str) -> None:
    ledgers = [await CallLedger.open(ledger_url) for _ in range(2)]
    finals: list[CallRecord] = []
    sweepers = [
        CallSweeper(
            ledger=lg, endpoints=ENDPOINTS, events=EVENTS, report_wait_s=60, on_final=finals.append
        )
        for lg in ledgers
    ]
    try:
        writer = ledgers[0]
        call_id = await writer.open_call(carrier_call("CA5"))
        await writer.mark_answered(call_id, at=utc_now(), source="shim")
        await writer.add_turn(call_id, turn("user", "hello"))
        await writer.add_turn(call_id, turn("agent", "You said: hello", total_ms=700))
        await asyncio.gather(*(s.sweep() for s in sweepers))
        await asyncio.gather(*(s.sweep() for s in sweepers))
        await writer.mark_ended(call_id, at=utc_now(), reason="carrier_stop", source="shim")
        await writer.agent_report(
            call_id, metrics={"turn_count": 2}, at=utc_now(), reason="participant_disconnected"
        )
        results = await asyncio.gather(*(s.sweep() for s in sweepers))
        await asyncio.gather(*(s.sweep() for s in sweepers))
        events = await _events(writer)
        async with writer.sessions() as session:
            deliveries = list((await session.execute(select(WebhookDeliveryRow))).scalars())
    finally:
        for lg in ledgers:
            await lg.aclose()
    types = sorted(t for t, _, _ in events)
    assert types == ["call.answered", "call.ended", "call.started", "call.turn", "call.turn"]
    assert sum(len(r.finalized) for r in results) == 1
    assert [f.id for f in finals] == [call_id]
    assert len(deliveries) == len(events) * len(ENDPOINTS)  # one per event and endpoint
    assert {d.status for d in deliveries} == {"pending"}
    ended = next(body for t, _, body in events if t == "call.ended")
    record = ended["data"]
    assert isinstance(record, dict)
    assert record["id"] == call_id
    assert record["end_reason"] == "carrier_stop"
    assert [t["role"] for t in record["transcript"]] == ["user", "agent"]
    assert record["metrics"] == {"turn_count": 2}
    started = next(body for t, _, body in events if t == "call.started")
    assert "transcript" not in started["data"]  # type: ignore[operator]
    assert str(ended["id"]).startswith("evt_")


async def test_without_the_agents_report_the_record_closes_after_the_wait(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    sweeper = CallSweeper(ledger=ledger, endpoints=ENDPOINTS, report_wait_s=2.0)
    try:
        call_id = await ledger.open_call(browser_call(at=utc_now() - timedelta(seconds=20)))
        await ledger.add_turn(call_id, turn("user", "hi", offset_s=-5))
        await ledger.add_turn(call_id, turn("agent", "hello", total_ms=600, offset_s=-4))
        await ledger.add_turn(call_id, turn("agent", "again", total_ms=800, offset_s=-3))
        ended_at = utc_now() - timedelta(seconds=1)
        await ledger.mark_ended(
            call_id, at=ended_at, reason="participant_left", source="livekit_webhook"
        )
        assert (await sweeper.sweep()).finalized == []  # 1 s of the 2 s wait has passed
        await ledger.mark_ended(
            call_id,
            at=ended_at - timedelta(seconds=5),
            reason="participant_left",
            source="livekit_webhook",
        )
        done = (await sweeper.sweep()).finalized
        record = await get_call(ledger, call_id)
    finally:
        await ledger.aclose()
    assert [r.id for r in done] == [call_id]
    assert record is not None
    assert record.status == "final"
    assert not record.agent_reported
    assert record.metrics["turn_count"] == 3
    assert record.metrics["avg_total_latency_ms"] == 700
    assert record.metrics["avg_stt_latency_ms"] == 120
    assert record.metrics["session_duration_ms"] > 0


async def test_a_gone_agent_shortens_the_wait(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    sweeper = CallSweeper(ledger=ledger, report_wait_s=600.0)  # no endpoints: nothing queued
    try:
        call_id = await ledger.open_call(browser_call("web-dead", "v"))
        await ledger.room_finished("web-dead", at=utc_now() - timedelta(seconds=10))
        done = (await sweeper.sweep()).finalized
        events = await _events(ledger)
    finally:
        await ledger.aclose()
    assert [r.id for r in done] == [call_id]
    assert done[0].end_reason == "room_finished"
    assert events == []


async def test_a_final_record_keeps_the_end_it_was_announced_with(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    sweeper = CallSweeper(ledger=ledger, endpoints=ENDPOINTS, report_wait_s=0.0)
    try:
        call_id = await ledger.open_call(browser_call())
        await ledger.mark_ended(
            call_id, at=utc_now(), reason="participant_left", source="livekit_webhook"
        )
        assert [r.id for r in (await sweeper.sweep()).finalized] == [call_id]
        # the agent's report comes late: its metrics are kept, the announced end is not changed
        await ledger.agent_report(
            call_id, metrics={"turn_count": 4}, at=utc_now(), reason="participant_disconnected"
        )
        record = await get_call(ledger, call_id)
        [ended] = [body for t, _, body in await _events(ledger) if t == "call.ended"]
    finally:
        await ledger.aclose()
    assert record is not None
    assert record.end_reason == "participant_left"
    assert ended["data"]["end_reason"] == "participant_left"  # type: ignore[index]
    assert record.metrics == {"turn_count": 4}
