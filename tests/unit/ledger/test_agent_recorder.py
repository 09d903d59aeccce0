"""The agent's writer: livekit chat messages become turns with their timings; a session's
events, turns and final report land in the ledger in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from omnivoice_rtc.ledger.agent_recorder import AgentCallRecorder, turn_fact
from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.ledger.store import CallLedger
from omnivoice_rtc.settings import LedgerSettings
from omnivoice_rtc.types import (
    Dtmf,
    Event,
    EventType,
    Metrics,
    ParticipantInfo,
    SessionEnded,
    SessionStarted,
    ToolCall,
    Turn,
    TurnLatency,
)

pytestmark = pytest.mark.unit


def _message(role: str, text: str, **metrics: float) -> Any:
    return SimpleNamespace(
        role=role, text_content=text, metrics=metrics, interrupted=False, created_at=1_700_000_000.0
    )


def test_a_chat_message_becomes_a_turn_with_its_latencies() -> None:
    fact = turn_fact(
        _message(
            "assistant",
            " You said: hi ",
            started_speaking_at=1_700_000_001.0,
            stopped_speaking_at=1_700_000_002.5,
            llm_node_ttft=0.3,
            tts_node_ttfb=0.12,
            e2e_latency=0.845,
        )
    )
    assert fact is not None
    assert (fact.role, fact.text, fact.duration_ms) == ("agent", "You said: hi", 1500)
    assert (fact.llm_ms, fact.tts_ms, fact.total_ms, fact.stt_ms) == (300, 120, 845, None)
    assert fact.started_at == datetime.fromtimestamp(1_700_000_001.0, UTC)
    user = turn_fact(_message("user", "hi", transcription_delay=0.2))
    assert user is not None
    assert (user.role, user.stt_ms, user.started_at.timestamp()) == ("user", 200, 1_700_000_000.0)
    assert turn_fact(_message("system", "x")) is None


class _AgentSession:
    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[Any], None]] = {}

    def on(self, name: str, handler: Callable[[Any], None]) -> None:
        self.handlers[name] = handler


class _Session:
    """What the recorder reads of a LiveKitSession."""

    def __init__(self) -> None:
        self.room_name = "sip-twilio-_+1555_x"
        self.participant = ParticipantInfo(
            identity="sip_+1555",
            room_name=self.room_name,
            kind="sip",
            attributes={
                "sip.callID": "SCL_1",
                "sip.phoneNumber": "+1555",
                "sip.trunkPhoneNumber": "+1999",
                "sip.ruleID": "r",
            },
        )
        self.id = f"{self.room_name}/sip_+1555"
        self.agent_identity = "agent-AJ_1"
        self.start_time = datetime.now(UTC)
        self.agent_session = _AgentSession()
        self.turns: list[Turn] = []
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()

    def transcript(self) -> list[Turn]:
        return list(self.turns)

    async def _events(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event

    def events(self) -> AsyncIterator[Event]:
        return self._events()


async def test_a_session_is_recorded_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # records are built (and their extra checked) as in a worker
    settings = LedgerSettings(database_url=f"sqlite:///{tmp_path / 'calls.db'}")
    recorder = await AgentCallRecorder.open(settings)
    assert recorder is not None
    session = _Session()
    recorder.track(cast(Any, session))
    q = session.queue
    q.put_nowait(
        Event(
            type=EventType.SESSION_STARTED,
            data=SessionStarted(participant="sip_+1555", pipeline="local"),
        )
    )
    session.turns.append(Turn(role="user", text="hi", timestamp=datetime.now(UTC)))
    session.agent_session.handlers["conversation_item_added"](
        SimpleNamespace(item=_message("user", "hi", transcription_delay=0.1))
    )
    tool = ToolCall(name="lookup", arguments={"q": 1}, result="ok")
    q.put_nowait(Event(type=EventType.TOOL_CALL, data=tool))
    session.turns.append(
        Turn(role="agent", text="You said: hi", timestamp=datetime.now(UTC), tool_calls=[tool])
    )
    session.agent_session.handlers["conversation_item_added"](
        SimpleNamespace(item=_message("assistant", "You said: hi", e2e_latency=0.7))
    )
    q.put_nowait(Event(type=EventType.DTMF, data=Dtmf(digit="5")))
    report = SessionEnded(
        reason="participant_disconnected",
        metrics=Metrics(turn_count=2, avg_total_latency_ms=700),
        recording=("/rec/c/caller.ogg", "/rec/c/agent.ogg"),
    )
    q.put_nowait(Event(type=EventType.SESSION_ENDED, data=report))
    q.put_nowait(None)
    await recorder.aclose()
    assert recorder.failures == 0  # e.g. logging the tool call's "name" must not fail
    ledger = await CallLedger.open(settings.database_url)
    try:
        record = await get_call(ledger, "SCL_1")
    finally:
        await ledger.aclose()
    assert record is not None
    assert record.id == call_key(session.room_name, "sip_+1555")
    assert (record.route, record.carrier, record.pipeline) == ("sip", "sip", "local")
    assert (record.caller, record.callee, record.agent_identity) == ("+1555", "+1999", "agent-AJ_1")
    assert record.answered_at is not None
    assert [(t.role, t.text) for t in record.turns] == [("user", "hi"), ("agent", "You said: hi")]
    assert record.turns[1].total_ms == 700
    assert record.turns[1].tool_calls[0]["name"] == "lookup"
    assert [e.type for e in record.events] == ["tool_call", "dtmf"]
    assert record.events[1].data == {"digit": "5"}
    assert record.agent_reported
    assert record.refs == {"recordings": [{"files": ["/rec/c/caller.ogg", "/rec/c/agent.ogg"]}]}
    assert record.metrics["avg_total_latency_ms"] == 700
    assert (record.end_reason, record.ended_by) == ("participant_disconnected", "caller")


async def test_mouth_to_ear_reports_are_recorded_per_turn_and_in_the_metrics(
    tmp_path: Path,
) -> None:
    from omnivoice_rtc.ledger.agent_metrics import agent_metrics

    settings = LedgerSettings(database_url=f"sqlite:///{tmp_path / 'calls.db'}")
    recorder = await AgentCallRecorder.open(settings)
    assert recorder is not None
    session = _Session()
    recorder.track(cast(Any, session))
    histogram = agent_metrics().mouth_to_ear.labels(measured_by="carrier")
    observed_before = _histogram_count(histogram)
    q = session.queue
    q.put_nowait(
        Event(
            type=EventType.SESSION_STARTED,
            data=SessionStarted(participant="sip_+1555", pipeline="local"),
        )
    )
    latency = TurnLatency(mouth_to_ear_ms=640, measured_by="carrier")
    q.put_nowait(Event(type=EventType.TURN_LATENCY, data=latency))
    metrics = Metrics(turn_count=2, mouth_to_ear_turns=1, avg_mouth_to_ear_ms=640)
    q.put_nowait(Event(type=EventType.SESSION_ENDED, data=SessionEnded(metrics=metrics)))
    q.put_nowait(None)
    await recorder.aclose()
    ledger = await CallLedger.open(settings.database_url)
    try:
        record = await get_call(ledger, "SCL_1")
    finally:
        await ledger.aclose()
    assert record is not None
    assert [(e.type, e.data) for e in record.events] == [
        ("turn_latency", {"mouth_to_ear_ms": 640, "measured_by": "carrier"})
    ]
    assert record.metrics["avg_mouth_to_ear_ms"] == 640
    assert _histogram_count(histogram) == observed_before + 1


def _histogram_count(child: Any) -> float:
    for metric in child.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return float(sample.value)
    return 0.0


async def test_an_unreachable_database_leaves_calls_unrecorded(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    settings = LedgerSettings(database_url=f"sqlite:///{blocker / 'calls.db'}")
    assert await AgentCallRecorder.open(settings) is None
    assert await AgentCallRecorder.open(LedgerSettings()) is None  # off
