"""LiveKitSession takes mouth-to-ear reports (``omnivoice.latency``) from its own
participant, at most one per agent reply, and emits them as ``turn_latency`` events that
fill the Metrics' mouth-to-ear fields. A stand-in room (no server); no timing asserted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

import pytest
from livekit import rtc
from livekit.agents.voice import events as lk

from omnivoice_rtc.agent.livekit_session import LiveKitSession
from omnivoice_rtc.livekit.data_topics import LATENCY_TOPIC, encode_latency_report
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.types import EventType, TurnLatency

pytestmark = pytest.mark.unit


class _Room:
    name = "room-1"

    def __init__(self) -> None:
        self.local_participant = type("Local", (), {"identity": "agent-1"})()

    def on(self, *_: Any) -> None: ...

    def off(self, *_: Any) -> None: ...


class _Participant:
    identity = "caller-1"
    name = "Caller"
    metadata = ""
    attributes: ClassVar[dict[str, str]] = {}
    kind = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


@dataclass
class _Sender:
    identity: str


@dataclass
class _Packet:
    data: bytes
    participant: _Sender | None
    topic: str = LATENCY_TOPIC


def _session() -> LiveKitSession:
    return LiveKitSession(
        room=cast(rtc.Room, _Room()),
        participant=cast(rtc.RemoteParticipant, _Participant()),
        parts=cast(PipelineParts, object()),
        relay_events=False,
    )


def _speaking(session: LiveKitSession) -> None:
    session._on_agent_state(lk.AgentStateChangedEvent(old_state="thinking", new_state="speaking"))


def _report(ms: int, sender: str = "caller-1", topic: str = LATENCY_TOPIC) -> rtc.DataPacket:
    raw = encode_latency_report(mouth_to_ear_ms=ms, measured_by="browser")
    return cast(rtc.DataPacket, _Packet(raw, _Sender(sender), topic))


def _latencies(session: LiveKitSession) -> list[TurnLatency]:
    return [
        e.data
        for e in session._history._events
        if e.type is EventType.TURN_LATENCY and isinstance(e.data, TurnLatency)
    ]


async def test_a_report_after_a_reply_is_an_event_and_fills_the_metrics() -> None:
    session = _session()
    _speaking(session)
    session._on_data(_report(640))
    assert _latencies(session) == [TurnLatency(mouth_to_ear_ms=640, measured_by="browser")]
    metrics = session.metrics()
    assert (metrics.mouth_to_ear_turns, metrics.avg_mouth_to_ear_ms) == (1, 640)


async def test_one_report_per_reply_and_none_before_a_reply() -> None:
    session = _session()
    session._on_data(_report(500))  # no reply yet
    _speaking(session)
    session._on_data(_report(640))
    session._on_data(_report(700))  # the same reply again
    _speaking(session)
    session._on_data(_report(800))
    assert [r.mouth_to_ear_ms for r in _latencies(session)] == [640, 800]


async def test_reports_from_others_or_other_topics_are_ignored() -> None:
    session = _session()
    _speaking(session)
    session._on_data(_report(640, sender="someone-else"))
    session._on_data(_report(640, topic="omnivoice.control"))
    session._on_data(cast(rtc.DataPacket, _Packet(b"{}", _Sender("caller-1"))))  # malformed
    assert _latencies(session) == []
    session._on_data(_report(640))  # the reply is still unmeasured
    assert len(_latencies(session)) == 1
