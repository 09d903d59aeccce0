"""The ledger on SQLite and on a real PostgreSQL: migrations, facts merged per call from
several writers, turns, events, reads, purge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from omnivoice_rtc.ledger.engine import create_engine, migrate, schema_revision
from omnivoice_rtc.ledger.facts import CallOpened
from omnivoice_rtc.ledger.keys import call_key, classify
from omnivoice_rtc.ledger.queries import CallFilter, get_call, list_calls, purge_before
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from tests.integration.ledger.helpers import browser_call, carrier_call, turn

pytestmark = pytest.mark.integration


async def test_migrations_reach_head_once_even_when_run_concurrently(ledger_url: str) -> None:
    engines = [create_engine(ledger_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(e) for e in engines))  # three processes starting at once
        assert await schema_revision(engines[0]) == "0001"
        await migrate(engines[1])  # a no-op at head
        assert await schema_revision(engines[1]) == "0001"
    finally:
        for engine in engines:
            await engine.dispose()


async def test_facts_from_several_writers_merge_into_one_record(ledger_url: str) -> None:
    agent, shim = await CallLedger.open(ledger_url), await CallLedger.open(ledger_url)
    try:
        started = utc_now()
        fact = carrier_call("CA9", source="shim", at=started)
        call_id = await shim.open_call(fact)
        assert call_id == call_key("call-twilio-CA9", "caller-twilio-CA9")
        # the agent knows the same call by room and identity; it cannot tell the route's
        # parties from a browser's (no carrier attributes given here) and must not erase them
        later = browser_call(
            "call-twilio-CA9", "caller-twilio-CA9", at=started + timedelta(seconds=1)
        )
        assert await agent.open_call(later) == call_id
        await shim.mark_answered(call_id, at=started + timedelta(seconds=2), source="shim")
        await agent.mark_answered(call_id, at=started + timedelta(seconds=3), source="agent")
        await agent.add_turn(call_id, turn("user", "I would like a pizza"))
        await agent.add_turn(call_id, turn("agent", "You said: I would like a pizza", total_ms=850))
        await agent.add_event(
            call_id, type="dtmf", at=utc_now(), source="agent", data={"digit": "7"}
        )
        # the agent notices the end after the shim; the shim knows why (the carrier's stop)
        await shim.mark_ended(
            call_id, at=started + timedelta(seconds=9), reason="carrier_stop", source="shim"
        )
        await agent.agent_report(
            call_id,
            metrics={"turn_count": 2, "avg_total_latency_ms": 850},
            at=started + timedelta(seconds=10),
            reason="participant_disconnected",
        )
        record = await get_call(agent, "CA9")  # found by the carrier's call id
    finally:
        await agent.aclose()
        await shim.aclose()
    assert record is not None
    assert record.id == call_id
    assert (record.route, record.carrier, record.direction) == ("media_stream", "twilio", "inbound")
    assert (record.caller, record.callee) == ("+15550001", "+15550002")
    assert record.created_at == started
    assert record.answered_at == started + timedelta(seconds=2)  # the earliest report
    assert record.ended_at == started + timedelta(seconds=9)
    assert (record.end_reason, record.ended_by) == ("carrier_stop", "caller")  # the route wins
    assert record.agent_reported
    assert record.metrics == {"turn_count": 2, "avg_total_latency_ms": 850}
    assert [(t.seq, t.role) for t in record.turns] == [(0, "user"), (1, "agent")]
    assert record.turns[1].total_ms == 850
    assert record.turns[0].stt_ms == 120
    assert [(e.type, e.data) for e in record.events] == [("dtmf", {"digit": "7"})]
    assert set(record.sources) == {"shim", "agent"}
    body = record.to_dict()
    assert body["pii"] == {"caller": "+15550001", "callee": "+15550002"}
    assert "pii" not in record.to_dict(pii=False)


async def test_end_reason_of_a_lesser_writer_does_not_replace_a_better_one(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    try:
        call_id = await ledger.open_call(browser_call())
        now = utc_now()
        await ledger.mark_ended(call_id, at=now, reason="participant_disconnected", source="agent")
        await ledger.mark_ended(
            call_id,
            at=now - timedelta(seconds=1),
            reason="participant_left",
            source="livekit_webhook",
        )
        record = await get_call(ledger, call_id)
    finally:
        await ledger.aclose()
    assert record is not None
    assert record.end_reason == "participant_disconnected"
    assert record.ended_at == now - timedelta(seconds=1)  # the earliest time still wins
    assert record.status == "ended"


async def test_turns_keep_their_order_across_two_agent_sessions(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    try:
        call_id = await ledger.open_call(browser_call())
        seqs = await asyncio.gather(
            *(ledger.add_turn(call_id, turn("user", f"t{i}")) for i in range(6))
        )
        record = await get_call(ledger, call_id)
    finally:
        await ledger.aclose()
    assert sorted(seqs) == list(range(6))
    assert record is not None
    assert [t.seq for t in record.turns] == list(range(6))


async def test_room_finished_ends_every_call_of_the_room(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    try:
        a = await ledger.open_call(browser_call("web-r", "visitor-a"))
        b = await ledger.open_call(browser_call("web-r", "visitor-b"))
        other = await ledger.open_call(browser_call("web-other", "visitor-c"))
        assert sorted(await ledger.room_finished("web-r", at=utc_now())) == sorted([a, b])
        records = {r.id: r for r in await list_calls(ledger, CallFilter())}
    finally:
        await ledger.aclose()
    assert records[a].end_reason == records[b].end_reason == "room_finished"
    assert records[a].ended_by == "system"
    assert records[other].status == "active"


async def test_list_filters_and_purge(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    try:
        now = utc_now()
        old = await ledger.open_call(browser_call("web-old", "v", at=now - timedelta(days=40)))
        await ledger.add_turn(old, turn("user", "old words"))
        new = await ledger.open_call(carrier_call("CA2", at=now))
        await ledger.mark_ended(new, at=now, reason="carrier_stop", source="shim")
        assert [r.id for r in await list_calls(ledger, CallFilter(route="media_stream"))] == [new]
        assert [r.id for r in await list_calls(ledger, CallFilter(end_reason="carrier_stop"))] == [
            new
        ]
        assert [
            r.id for r in await list_calls(ledger, CallFilter(since=now - timedelta(days=1)))
        ] == [new]
        assert [r.id for r in await list_calls(ledger, CallFilter())] == [new, old]  # newest first
        counts = await purge_before(ledger, now - timedelta(days=30))
        assert counts.calls == 1
        assert await get_call(ledger, old) is None
        assert await get_call(ledger, new) is not None
    finally:
        await ledger.aclose()


async def test_a_reference_is_kept_for_call_control(ledger_url: str) -> None:
    ledger = await CallLedger.open(ledger_url)
    try:
        call_id = await ledger.open_call(browser_call())
        await ledger.add_reference(call_id, "transfers", {"to": "sip:desk@example.test"})
        await ledger.add_reference(call_id, "recordings", {"uri": "s3://bucket/x.ogg"})
        record = await get_call(ledger, call_id)
        with pytest.raises(KeyError):
            await ledger.add_reference("call_missing", "transfers", {})
    finally:
        await ledger.aclose()
    assert record is not None
    assert record.refs == {
        "transfers": [{"to": "sip:desk@example.test"}],
        "recordings": [{"uri": "s3://bucket/x.ogg"}],
    }


async def test_a_sip_call_seen_before_its_dispatch_attributes_gets_its_carrier(
    ledger_url: str,
) -> None:
    """livekit-sip adds the dispatch rule's omnivoice.carrier a moment after the participant
    joins: the first writer may only know "sip"; a later one's carrier wins over it."""
    room, identity = "sip-telnyx-_+15550001_abc", "sip_+15550001"
    early = {"sip.callID": "SCL_1", "sip.phoneNumber": "+15550001"}
    late = {**early, "omnivoice.carrier": "telnyx"}

    def opened(attributes: dict[str, str], source: str) -> CallOpened:
        return CallOpened(
            room_name=room,
            participant_identity=identity,
            parties=classify(room, attributes, sip_kind=True),
            source=source,
            created_at=utc_now(),
        )

    ledger = await CallLedger.open(ledger_url)
    try:
        call_id = await ledger.open_call(opened(early, "sip_gateway"))
        await ledger.open_call(opened(late, "agent"))
        await ledger.open_call(opened(early, "livekit_webhook"))  # "sip" never comes back
        record = await get_call(ledger, call_id)
    finally:
        await ledger.aclose()
    assert record is not None
    assert (record.route, record.carrier) == ("sip", "telnyx")
