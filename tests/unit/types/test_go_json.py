"""JSON round-trip of every value type against samples written by Go's encoding/json.

The samples in tests/fixtures/go_json/ were produced by gen/main.go from the Go
struct definitions; parsing then serializing must give back the same object with
the same key order.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from omnivoice_rtc import (
    BridgeConfig,
    CallInfo,
    Config,
    Event,
    EventType,
    InterruptionMode,
    Metrics,
    ParticipantInfo,
    RealtimeConfig,
    RoomInfo,
    ToolCall,
    Turn,
    WebRTCConfig,
)
from omnivoice_rtc.types._gostruct import GoStruct

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "go_json"

CASES: list[tuple[str, type[GoStruct]]] = [
    ("event", Event),
    ("tool_call", ToolCall),
    ("tool_call_error", ToolCall),
    ("turn", Turn),
    ("turn_user", Turn),
    ("metrics", Metrics),
    ("call_info", CallInfo),
    ("participant_info", ParticipantInfo),
    ("room_info", RoomInfo),
    ("realtime_config", RealtimeConfig),
    ("webrtc_config", WebRTCConfig),
]


def load(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


@pytest.mark.parametrize(("name", "cls"), CASES)
def test_go_sample_round_trips_exactly(name: str, cls: type[GoStruct]) -> None:
    go = load(name)
    value = cls.from_dict(go)
    out = value.to_dict()
    assert out == go
    assert list(out) == list(go)
    assert cls.from_json(value.to_json()) == value


def test_parsed_values_are_typed() -> None:
    turn = Turn.from_dict(load("turn"))
    assert turn.timestamp == datetime(2026, 6, 15, 10, 30, 0, 123456, tzinfo=UTC)
    assert turn.tool_calls[0].arguments == {"city": "Paris", "days": 2.0}
    cfg = WebRTCConfig.from_dict(load("webrtc_config"))
    assert cfg.session.max_session_duration == timedelta(minutes=10)
    assert cfg.session.interruption_mode is InterruptionMode.AFTER_SENTENCE
    assert cfg.text.stt.model == "gpt-4o-transcribe"
    assert cfg.livekit.server_url == "wss://example.livekit.cloud"
    assert Event.from_dict(load("event")).type is EventType.USER_TRANSCRIPT
    call = CallInfo.from_dict(load("call_info"))
    assert (call.call_id, call.from_, call.to) == (
        "CA1234567890ABCDE",
        "+14158675309",
        "+18005551212",
    )


def test_go_nanosecond_timestamps_truncate_to_microseconds() -> None:
    raw = {"type": "error", "timestamp": "2026-06-15T10:30:00.123456789+02:00"}
    event = Event.from_dict(raw)
    assert event.timestamp.microsecond == 123456
    assert event.timestamp.utcoffset() == timedelta(hours=2)
    assert event.to_dict()["timestamp"] == "2026-06-15T10:30:00.123456+02:00"


def test_go_error_value_is_accepted() -> None:
    # Go marshals an `error` as {} (no exported fields); we keep a placeholder message.
    event = Event.from_dict({"type": "error", "timestamp": "2026-06-15T10:30:00Z", "error": {}})
    assert event.error == "error"


def test_config_and_bridge_config_round_trip() -> None:
    cfg = Config(realtime_config=RealtimeConfig(api_key="k", model="m"))
    assert Config.from_json(cfg.to_json()) == cfg
    assert "Logger" not in cfg.to_dict()
    assert "RealtimeProvider" not in cfg.to_dict()
    bridge = BridgeConfig(buffer_size=50)
    assert BridgeConfig.from_json(bridge.to_json()) == bridge
    assert bridge.to_dict()["FromFormat"] == {
        "encoding": "mulaw",
        "sample_rate": 8000,
        "channels": 1,
    }


@pytest.mark.parametrize(
    ("cls", "raw", "message"),
    [
        (
            Event,
            {"type": "error", "timestamp": "yesterday"},
            "Event.timestamp: invalid RFC 3339 timestamp 'yesterday'",
        ),
        (Metrics, {"turn_count": "3"}, "Metrics.turn_count: expected int, got str"),
        (Metrics, {"turn_count": True}, "Metrics.turn_count: expected int, got bool"),
        (Turn, {"role": "robot"}, "Turn.role: must be 'user' or 'agent', got 'robot'"),
        (Turn, {"tool_calls": {}}, "Turn.tool_calls: expected list, got dict"),
        (
            CallInfo,
            {"Direction": "sideways"},
            "CallInfo.direction: must be 'inbound' or 'outbound', got 'sideways'",
        ),
        (WebRTCConfig, {"SampleRate": 44100}, "sample_rate: must be 16000 or 24000 Hz, got 44100"),
        (
            RealtimeConfig,
            {"temperature": 3},
            "RealtimeConfig.temperature: must be within 0..2, got 3",
        ),
        (ToolCall, [], "ToolCall: expected a JSON object, got list"),
    ],
)
def test_bad_json_raises_precise_value_error(cls: type[GoStruct], raw: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        cls.from_dict(raw)


def test_invalid_json_text() -> None:
    with pytest.raises(ValueError, match=r"^Metrics: invalid JSON: Expecting value$"):
        Metrics.from_json("nope")


def test_unknown_enum_values_are_kept_not_refused() -> None:
    """A Go service may send values this version does not list: kept as received."""
    event = Event.from_dict({"type": "nope", "timestamp": "2026-06-15T10:30:00Z"})
    assert event.type == "nope"
    assert not event.type.is_known
    assert event.to_dict()["type"] == "nope"
