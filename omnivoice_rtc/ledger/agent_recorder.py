"""AgentCallRecorder: the agent job's writer of the ledger.

The agent sees every route's conversation, so it records what only it knows, as it
happens (a job that dies loses at most its last fact): the call's room, participant,
route and parties (from the participant's attributes), that the agent answered, each
turn with its timings and latencies (livekit's per-message metrics), tool calls, DTMF,
errors and interruptions, then its final report (the Go ``Metrics``) and why the
session ended. It writes to the database directly, not through the room, so the record
is complete when the caller or the carrier hung up first.

``RoomAgent(on_session=recorder.track)`` hands it each session; one owned task per
session writes in order; :meth:`aclose` (a job shutdown callback) lets them finish for
a few seconds, then cancels them. A database error is logged and counted, never raised
into the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.exc import SQLAlchemyError

from omnivoice_rtc.ledger.agent_metrics import agent_metrics
from omnivoice_rtc.ledger.facts import CallOpened, TurnFact
from omnivoice_rtc.ledger.keys import call_key, classify
from omnivoice_rtc.ledger.store import CallLedger
from omnivoice_rtc.logs import bind_call_id
from omnivoice_rtc.settings import LedgerSettings
from omnivoice_rtc.types import EventType, SessionEnded, SessionStarted, TurnLatency
from omnivoice_rtc.types.event_data import encode_event_data

if TYPE_CHECKING:
    from livekit.agents.voice import events as lk

    from omnivoice_rtc.agent.livekit_session import LiveKitSession
    from omnivoice_rtc.types import Event

__all__ = ["AgentCallRecorder", "turn_fact"]

logger = logging.getLogger("omnivoice_rtc.ledger")

CLOSE_TIMEOUT_S: Final = 5.0
"""How long :meth:`AgentCallRecorder.aclose` lets sessions finish their writes (s)."""
_RECORDED_EVENTS: Final = {
    EventType.TOOL_CALL: "tool_call",
    EventType.DTMF: "dtmf",
    EventType.ERROR: "error",
    EventType.INTERRUPTION: "interruption",
    EventType.TURN_LATENCY: "turn_latency",  # mouth-to-ear of one turn, from the caller's side
}


def _ms(seconds: Any) -> int | None:
    return None if not isinstance(seconds, int | float) else max(0, round(seconds * 1000))


def turn_fact(item: Any, *, tool_calls: tuple[dict[str, Any], ...] = ()) -> TurnFact | None:
    """A livekit ``ChatMessage`` (user or assistant) as a turn, with its timings (None for
    other items)."""
    role = {"user": "user", "assistant": "agent"}.get(getattr(item, "role", ""))
    if role is None:
        return None
    report = dict(getattr(item, "metrics", None) or {})
    started = report.get("started_speaking_at")
    stopped = report.get("stopped_speaking_at")
    duration = stopped - started if started and stopped and stopped > started else 0.0
    at = started if started else getattr(item, "created_at", 0.0)
    return TurnFact(
        role=role,
        text=(item.text_content or "").strip(),
        started_at=datetime.fromtimestamp(at, UTC),
        duration_ms=_ms(duration) or 0,
        stt_ms=_ms(report.get("transcription_delay")),
        llm_ms=_ms(report.get("llm_node_ttft")),
        tts_ms=_ms(report.get("tts_node_ttfb")),
        total_ms=_ms(report.get("e2e_latency")),
        interrupted=bool(getattr(item, "interrupted", False)),
        tool_calls=tool_calls,
    )


class AgentCallRecorder:
    """Records the sessions of one agent job (see the module docstring)."""

    def __init__(self, *, ledger: CallLedger) -> None:
        self._ledger = ledger
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    @classmethod
    async def open(cls, settings: LedgerSettings) -> AgentCallRecorder | None:
        """A recorder on ``settings``' database; None when the ledger is off or cannot be
        opened (logged: calls go on unrecorded)."""
        if not settings.enabled:
            return None
        try:
            ledger = await CallLedger.open(settings.database_url)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning(
                "call ledger unavailable; calls are not recorded", extra={"error": str(exc)}
            )
            return None
        return cls(ledger=ledger)

    def track(self, session: LiveKitSession) -> None:
        """Record ``session`` until it ends (``RoomAgent``'s ``on_session`` callback)."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        agent_session = session.agent_session
        if agent_session is not None:

            def on_item(ev: lk.ConversationItemAddedEvent) -> None:
                turns = session.transcript()
                tools = tuple(t.to_dict() for t in turns[-1].tool_calls) if turns else ()
                fact = turn_fact(ev.item, tool_calls=tools)
                if fact is not None:
                    queue.put_nowait(("turn", fact))

            agent_session.on("conversation_item_added", on_item)
        task = asyncio.create_task(self._record(session, queue), name="omnivoice.call_recorder")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, session: LiveKitSession, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        info = session.participant
        call_id = call_key(session.room_name, info.identity)
        bind_call_id(call_id)
        pipeline = ""
        events = asyncio.ensure_future(self._pump_events(session, queue))
        try:
            await self._open(session, pipeline)
            async for kind, value in self._items(queue, events):
                if kind == "event" and isinstance(value.data, SessionStarted):
                    pipeline = value.data.pipeline
                await self._write(call_id, session, kind, value, pipeline)
        finally:
            events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await events

    @staticmethod
    async def _pump_events(session: LiveKitSession, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        async for event in session.events():
            queue.put_nowait(("event", event))
        queue.put_nowait(("done", None))

    @staticmethod
    async def _items(queue: asyncio.Queue[tuple[str, Any]], events: asyncio.Future[None]) -> Any:
        while True:
            kind, value = await queue.get()
            if kind == "done":
                while not queue.empty():  # turns added while the session was ending
                    late = queue.get_nowait()
                    if late[0] != "done":
                        yield late
                return
            yield kind, value

    async def _open(self, session: LiveKitSession, pipeline: str) -> None:
        info = session.participant
        parties = classify(session.room_name, info.attributes, sip_kind=info.kind == "sip")
        if not pipeline:  # the first open of this session
            agent_metrics().calls.labels(route=parties.route).inc()
        try:
            await self._ledger.open_call(
                CallOpened(
                    room_name=session.room_name,
                    participant_identity=info.identity,
                    parties=classify(
                        session.room_name, info.attributes, sip_kind=info.kind == "sip"
                    ),
                    source="agent",
                    created_at=session.start_time,
                    session_id=session.id,
                    agent_identity=session.agent_identity,
                    pipeline=pipeline,
                )
            )
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            agent_metrics().ledger_failures.inc()
            logger.warning("call not recorded", extra={"error": str(exc)})

    async def _write(
        self, call_id: str, session: LiveKitSession, kind: str, value: Any, pipeline: str
    ) -> None:
        try:
            if kind == "turn":
                _observe(value)
                await self._ledger.add_turn(call_id, value)
            else:
                await self._on_event(call_id, session, value, pipeline)
        except (SQLAlchemyError, OSError, KeyError) as exc:
            self.failures += 1
            agent_metrics().ledger_failures.inc()
            logger.warning("call not recorded", extra={"call_id": call_id, "error": str(exc)})

    async def _on_event(
        self, call_id: str, session: LiveKitSession, event: Event, pipeline: str
    ) -> None:
        if event.type is EventType.SESSION_STARTED:
            await self._open(session, pipeline)
            await self._ledger.mark_answered(call_id, at=event.timestamp, source="agent")
        elif isinstance(event.data, SessionEnded):
            if event.data.recording:  # the call's recorded tracks (OMNIVOICE_RECORD_CALLS)
                await self._ledger.add_reference(
                    call_id, "recordings", {"files": list(event.data.recording)}
                )
            await self._ledger.agent_report(
                call_id,
                metrics=event.data.metrics.to_dict(),
                at=event.timestamp,
                reason=event.data.reason,
            )
        elif event.type in _RECORDED_EVENTS:
            if isinstance(event.data, TurnLatency):
                agent_metrics().mouth_to_ear.labels(measured_by=event.data.measured_by).observe(
                    event.data.mouth_to_ear_ms / 1000
                )
            raw = encode_event_data(event.data) if event.data is not None else None
            data: dict[str, Any] = raw if isinstance(raw, dict) else {"value": raw}
            if event.error:
                data["error"] = event.error
            await self._ledger.add_event(
                call_id,
                type=_RECORDED_EVENTS[event.type],
                at=event.timestamp,
                source="agent",
                data=data,
            )

    async def aclose(self) -> None:
        """Let running sessions finish their writes (up to 5 s), then stop; close the database."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*list(self._tasks), return_exceptions=True), CLOSE_TIMEOUT_S
                )
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._ledger.aclose()


def _observe(turn: TurnFact) -> None:
    histogram = agent_metrics().turn_latency
    for kind, ms in (
        ("stt", turn.stt_ms),
        ("llm", turn.llm_ms),
        ("tts", turn.tts_ms),
        ("total", turn.total_ms),
    ):
        if ms is not None:
            histogram.labels(kind=kind).observe(ms / 1000)
