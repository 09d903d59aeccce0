"""Typed Event.data: each event type's payload, written as the same JSON as before and
read back typed; data of another shape (or of an unknown type) kept as raw JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest

from omnivoice_rtc.types import (
    AgentTranscript,
    AudioBytes,
    Dtmf,
    ErrorDetail,
    Event,
    EventData,
    EventType,
    Interruption,
    Metrics,
    RawData,
    SessionEnded,
    SessionStarted,
    SpeechEnded,
    ToolCall,
    Turn,
    UserTranscript,
)

pytestmark = pytest.mark.unit

TS = "2026-06-15T10:30:00.123456Z"
TURN = Turn.from_dict({"role": "user", "text": "hi", "timestamp": TS, "duration_ms": 900})

# (event type, payload, the JSON this library wrote for it before payloads were typed)
PAYLOADS: list[tuple[EventType, EventData, dict[str, Any]]] = [
    (
        EventType.SESSION_STARTED,
        SessionStarted(
            participant="web-1", room="r", pipeline="local", interruption_mode="immediate"
        ),
        {
            "participant": "web-1",
            "room": "r",
            "pipeline": "local",
            "interruption_mode": "immediate",
        },
    ),
    (EventType.USER_SPEECH_END, SpeechEnded(duration_ms=1500), {"duration_ms": 1500}),
    (EventType.AGENT_SPEECH_END, SpeechEnded(duration_ms=20), {"duration_ms": 20}),
    (EventType.USER_TRANSCRIPT, UserTranscript(text="hi"), {"text": "hi", "final": True}),
    (
        EventType.USER_TRANSCRIPT,
        UserTranscript(text="hola", language="es", source="text"),
        {"text": "hola", "final": True, "language": "es", "source": "text"},
    ),
    (
        EventType.AGENT_TRANSCRIPT,
        AgentTranscript(text="Hello.", interrupted=True),
        {"text": "Hello.", "interrupted": True},
    ),
    (EventType.INTERRUPTION, Interruption(text="Once"), {"text": "Once"}),
    (
        EventType.ERROR,
        ErrorDetail(source="realtime", recoverable=True),
        {"source": "realtime", "recoverable": True},
    ),
    (
        EventType.TOOL_CALL,
        ToolCall(name="book", arguments={"n": 2}, result="ok", duration_ms=5),
        {"name": "book", "arguments": {"n": 2}, "result": "ok", "duration_ms": 5},
    ),
    (
        EventType.AUDIO_RECEIVED,
        AudioBytes(bytes_since_last=960, total_bytes=9600),
        {"bytes": 960, "total_bytes": 9600},
    ),
    (
        EventType.AUDIO_SENT,
        AudioBytes(bytes_since_last=1, total_bytes=2),
        {"bytes": 1, "total_bytes": 2},
    ),
    (EventType.DTMF, Dtmf(digit="#"), {"digit": "#"}),
    (
        EventType.SESSION_ENDED,
        SessionEnded(reason="max_duration", metrics=Metrics(turn_count=1), transcript=(TURN,)),
        {
            "reason": "max_duration",
            "metrics": Metrics(turn_count=1).to_dict(),
            "transcript": [TURN.to_dict()],
        },
    ),
    (
        EventType.SESSION_ENDED,
        SessionEnded(reason="x", transcript_truncated=True),
        {
            "reason": "x",
            "metrics": Metrics().to_dict(),
            "transcript": [],
            "transcript_truncated": True,
        },
    ),
]


@pytest.mark.parametrize(("kind", "payload", "wire"), PAYLOADS)
def test_payload_writes_the_same_json_and_reads_back_typed(
    kind: EventType, payload: EventData, wire: dict[str, Any]
) -> None:
    event = Event(type=kind, data=payload)
    assert event.to_dict()["data"] == wire
    parsed = Event.from_dict({"type": kind.value, "timestamp": TS, "data": wire})
    assert parsed.data == payload
    assert type(parsed.data) is type(payload)
    assert parsed.to_dict()["data"] == wire


def test_every_event_type_with_data_has_a_payload_case() -> None:
    from omnivoice_rtc.types.event_data import PAYLOAD_TYPES

    assert set(PAYLOAD_TYPES) == {kind for kind, _payload, _wire in PAYLOADS}


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("custom_event", {"anything": [1, 2]}),  # a type this version does not list
        ("user_speech_start", {"level": 3}),  # a type that carries no data here
        ("user_transcript", "hello"),  # not an object
        ("user_transcript", {"text": "hi", "final": True, "speaker": "a"}),  # another key
        ("user_transcript", {"final": True}),  # a key missing
        ("agent_transcript", {"text": "hi", "interrupted": 1}),  # int is not bool
        ("dtmf", {"digit": 5}),
        ("error", {"source": "tts"}),
        ("session_ended", {"metrics": Metrics().to_dict()}),  # a partial report
        ("tool_call", {"name": "x", "arguments": [], "result": "", "duration_ms": 0}),
        ("audio_sent", [960]),
        ("", None),  # Go's zero Event never has data: JSON null means absent
    ],
)
def test_other_shapes_are_kept_as_raw_json_and_written_back_unchanged(kind: str, data: Any) -> None:
    raw = {"type": kind, "timestamp": TS, "data": data}
    event = Event.from_dict(raw)
    if data is None:
        assert event.data is None
        return
    assert event.data == RawData(data)
    assert event.to_dict() == raw
    assert Event.from_json(event.to_json()) == event


def test_values_are_read_as_other_go_values_are() -> None:
    """Nested Go values follow the usual reading rules (nanoseconds truncated, roles kept)."""
    wire = {
        "reason": "error",
        "metrics": Metrics().to_dict(),
        "transcript": [
            {
                "role": "",
                "text": "",
                "timestamp": "2026-06-15T10:30:00.123456789Z",
                "duration_ms": 0,
            }
        ],
    }
    event = Event.from_dict({"type": "session_ended", "timestamp": TS, "data": wire})
    [turn] = event.data_as(SessionEnded).transcript
    assert (turn.role, turn.timestamp.microsecond) == ("", 123456)


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (
            EventType.USER_TRANSCRIPT,
            AgentTranscript(text="x"),
            "Event.data: a 'user_transcript' event carries UserTranscript, got AgentTranscript",
        ),
        (
            EventType.AGENT_THINKING,
            Dtmf(digit="1"),
            "Event.data: a 'agent_thinking' event carries no data (or RawData), got Dtmf",
        ),
    ],
)
def test_a_python_caller_must_pass_the_types_payload(
    kind: EventType, data: EventData, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Event(type=kind, data=data)


def test_raw_data_is_accepted_for_any_type() -> None:
    assert Event(type=EventType.DTMF, data=RawData("5")).to_dict()["data"] == "5"
    assert Event(type=EventType("custom"), data=RawData({"a": 1})).to_dict()["data"] == {"a": 1}


def test_data_as_returns_the_payload_or_raises_type_error() -> None:
    event = Event(type=EventType.DTMF, data=Dtmf(digit="5"))
    assert event.data_as(Dtmf).digit == "5"
    with pytest.raises(
        TypeError, match=r"^Event.data of a 'dtmf' event: expected UserTranscript, got Dtmf$"
    ):
        event.data_as(UserTranscript)
    with pytest.raises(TypeError, match=r"got NoneType$"):
        Event(type=EventType.DTMF).data_as(Dtmf)


def test_session_ended_carries_the_recording_files_only_when_there_are_some() -> None:
    files = ("/rec/call_1/caller-TR_1.ogg", "/rec/call_1/agent-TR_2.ogg")
    ended = SessionEnded(reason="hangup", recording=files)
    wire = ended.to_dict()
    assert wire["recording"] == list(files)
    assert SessionEnded.from_dict(wire).recording == files
    assert "recording" not in SessionEnded(reason="hangup").to_dict()  # Go's omitempty
    with pytest.raises(ValueError, match="recording"):
        SessionEnded.from_dict({**wire, "recording": "/one/path.ogg"})
