"""JSON round-trip of every value type against samples written by Go's encoding/json.

The samples in tests/fixtures/go_json/ (and the zero value of every struct in
tests/fixtures/go_json/zero/) were produced by gen/main.go from the Go struct
definitions; parsing then serializing must give back the same JSON: the same keys in
Go's order, the same values and JSON types (0 is not 0.0, null is not {}).
"""

from __future__ import annotations

import json
import logging
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
    PipelineMode,
    RealtimeConfig,
    RoomInfo,
    ToolCall,
    Turn,
    WebRTCConfig,
)
from omnivoice_rtc._gojson import GO_ZERO_TIME
from omnivoice_rtc.audio.format import OPENAI, TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.types import (
    FunctionDeclaration,
    ProcessConfig,
    SessionOptions,
    UserTranscript,
    WebRTCAudioOptions,
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
    ("config", Config),
    ("bridge_config", BridgeConfig),
]

ZERO_CASES: list[tuple[str, type[GoStruct], dict[str, Any]]] = [
    # (fixture, class, what reading changes: Go's documented defaults for zero values)
    ("event", Event, {}),
    ("tool_call", ToolCall, {}),
    ("turn", Turn, {}),
    ("metrics", Metrics, {}),
    ("call_info", CallInfo, {}),
    ("participant_info", ParticipantInfo, {}),
    ("room_info", RoomInfo, {}),
    ("function_declaration", FunctionDeclaration, {}),
    ("realtime_config", RealtimeConfig, {}),
    ("webrtc_config", WebRTCConfig, {"SampleRate": 24000, "Channels": 1}),
    ("config", Config, {"Mode": "text"}),
    ("process_config", ProcessConfig, {}),
    ("bridge_config", BridgeConfig, {"BufferSize": 100}),
]


def load(name: str) -> Any:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def assert_same_json(out: Any, go: Any, path: str = "$") -> None:
    """Same values and JSON types; same key order wherever Go's order is a struct's.

    Go writes map keys sorted and struct fields in declaration order, so a Go object
    whose keys are not sorted is a struct and its order must match; for sorted ones
    (maps such as Event.Data or ToolCall.Arguments) the order is not compared.
    """
    assert json.dumps(out, sort_keys=True) == json.dumps(go, sort_keys=True), path
    if isinstance(go, dict):
        if list(go) != sorted(go):
            assert list(out) == list(go), path
        for key in go:
            assert_same_json(out[key], go[key], f"{path}.{key}")
    elif isinstance(go, list):
        for i, (a, b) in enumerate(zip(out, go, strict=True)):
            assert_same_json(a, b, f"{path}[{i}]")


@pytest.mark.parametrize(("name", "cls"), CASES)
def test_go_sample_round_trips_exactly(name: str, cls: type[GoStruct]) -> None:
    go = load(name)
    value = cls.from_dict(go)
    out = value.to_dict()
    assert out == go
    assert list(out) == list(go)
    assert_same_json(out, go)
    assert cls.from_json(value.to_json()) == value


@pytest.mark.parametrize(("name", "cls", "defaults"), ZERO_CASES)
def test_go_zero_values_are_read_and_written_back(
    name: str, cls: type[GoStruct], defaults: dict[str, Any]
) -> None:
    """Every struct's zero value parses; writing it gives Go's keys and nulls back,
    with a zero replaced only where Go documents a default for it."""
    go = load(f"zero/{name}")
    value = cls.from_dict(go)
    assert_same_json(value.to_dict(), {**go, **defaults})
    assert cls.from_json(value.to_json()) == value


def test_every_zero_fixture_is_round_tripped() -> None:
    written = sorted(p.stem for p in (SAMPLES / "zero").glob("*.json"))
    assert written == sorted(name for name, _cls, _defaults in ZERO_CASES)


def test_zero_values_read_as_go_documents_them() -> None:
    webrtc = WebRTCConfig.from_dict(load("zero/webrtc_config"))
    assert (webrtc.audio.sample_rate, webrtc.audio.channels) == (24000, 1)
    assert webrtc.session.interruption_mode == ""  # no documented default: kept
    assert webrtc.agent_identity == ""
    config = Config.from_dict(load("zero/config"))
    assert (
        config.mode is PipelineMode.TEXT
    )  # "Default: PipelineModeText if RealtimeProvider is nil"
    assert config.realtime_provider is None
    assert config.logger is None
    bridge = BridgeConfig.from_dict(load("zero/bridge_config"))
    assert bridge.buffer_size == 100  # "BufferSize ... (default: 100)"
    assert (bridge.from_format, bridge.to_format) == (None, None)  # unset, kept unset
    assert CallInfo.from_dict(load("zero/call_info")).direction == ""
    turn = Turn.from_dict(load("zero/turn"))
    assert (turn.role, turn.timestamp) == ("", GO_ZERO_TIME)
    event = Event.from_dict(load("zero/event"))
    assert (event.type, event.type.is_known, event.data) == ("", False, None)
    assert ToolCall.from_dict(load("zero/tool_call")).arguments is None


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
    # live objects: written as Go writes them, never read back
    assert cfg.to_dict()["Logger"] is None
    assert cfg.to_dict()["RealtimeProvider"] is None
    live = Config(
        realtime_provider=object(), logger=logging.getLogger("x"), mode=PipelineMode.REALTIME
    )
    assert live.to_dict()["RealtimeProvider"] is None
    assert live.to_dict()["Logger"] == {}  # a *slog.Logger has no exported fields
    assert Config.from_dict(live.to_dict()).logger is None
    bridge = BridgeConfig(buffer_size=50)
    assert BridgeConfig.from_json(bridge.to_json()) == bridge
    assert bridge.to_dict()["Provider"] is None
    assert bridge.to_dict()["FromFormat"] == {
        "Encoding": "mulaw",
        "SampleRate": 8000,
        "Channels": 1,
    }
    assert bridge.to_dict()["ProcessConfig"] == {
        "Instructions": "",
        "Voice": "",
        "Functions": None,
        "Temperature": 0,
        "Extensions": None,
    }
    assert "OnFunctionCall" not in bridge.to_dict()["ProcessConfig"]


def test_tool_call_arguments_default_to_null_as_in_go() -> None:
    assert ToolCall(name="x").arguments is None
    assert ToolCall(name="x").to_dict()["arguments"] is None
    assert ToolCall(name="x", arguments={}).to_dict()["arguments"] == {}


def test_audio_formats_read_go_encoding_names_and_older_lower_case_keys() -> None:
    raw = {"Encoding": "linear16", "SampleRate": 16000, "Channels": 1}
    bridge = BridgeConfig.from_dict({"FromFormat": raw, "ToFormat": raw})
    assert bridge.from_format == AudioFormat(AudioEncoding.PCM16, 16000)
    older = {"encoding": "mulaw", "sample_rate": 8000, "channels": 1}
    assert BridgeConfig.from_dict({"FromFormat": older}).from_format == TWILIO
    assert BridgeConfig.from_dict({}).to_format == OPENAI
    with pytest.raises(ValueError, match=r"^BridgeConfig.FromFormat: AudioFormat.encoding"):
        BridgeConfig.from_dict({"FromFormat": {"Encoding": "opus", "SampleRate": 48000}})


def test_python_callers_must_still_pass_valid_arguments() -> None:
    with pytest.raises(ValueError, match="BridgeConfig: from_format and to_format are required"):
        BridgeConfig(from_format=None)
    with pytest.raises(ValueError, match=r"^interruption_mode: must be one of immediate, "):
        SessionOptions(interruption_mode=InterruptionMode("sometimes"))
    with pytest.raises(ValueError, match=r"^Config.mode: must be one of text, realtime, local"):
        Config(mode=PipelineMode("turbo"))
    assert Config(mode=PipelineMode("")).mode is PipelineMode.TEXT
    assert Config(mode=PipelineMode(""), realtime_provider=object()).mode is PipelineMode.REALTIME
    with pytest.raises(ValueError, match=r"^FunctionDeclaration\.name: must not be empty$"):
        FunctionDeclaration(name="")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Turn(role="robot"), "Turn.role: must be 'user' or 'agent', got 'robot'"),
        (
            lambda: CallInfo(direction="sideways"),
            "CallInfo.direction: must be 'inbound' or 'outbound', got 'sideways'",
        ),
        (
            lambda: WebRTCAudioOptions(sample_rate=44100),
            "sample_rate: must be 16000 or 24000 Hz, got 44100",
        ),
        (
            lambda: RealtimeConfig(temperature=3),
            "RealtimeConfig.temperature: must be within 0..2, got 3",
        ),
    ],
)
def test_constructors_validate_what_a_python_caller_passes(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build()


@pytest.mark.parametrize(
    ("cls", "raw", "attribute", "kept"),
    [
        (Turn, {"role": "robot"}, "role", "robot"),
        (CallInfo, {"Direction": "sideways"}, "direction", "sideways"),
        (RealtimeConfig, {"temperature": 3}, "temperature", 3),
        (Turn, {"duration_ms": -5}, "duration_ms", -5),
    ],
)
def test_values_go_can_write_are_kept_even_when_a_constructor_would_refuse_them(
    cls: type[GoStruct], raw: dict[str, Any], attribute: str, kept: object
) -> None:
    value = cls.from_dict(raw)
    assert getattr(value, attribute) == kept
    assert cls.from_json(value.to_json()) == value


def test_an_unusual_sample_rate_from_go_is_kept() -> None:
    config = WebRTCConfig.from_dict({"SampleRate": 44100, "Channels": 2})
    assert (config.audio.sample_rate, config.audio.channels) == (44100, 2)
    assert config.to_dict()["SampleRate"] == 44100


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
        (Turn, {"tool_calls": {}}, "Turn.tool_calls: expected list, got dict"),
        (Turn, {"role": 3}, "Turn.role: expected str, got int"),
        (Config, {"Mode": 1}, "Config.Mode: expected str, got int"),
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
    options = SessionOptions.from_dict({"InterruptionMode": "sometimes"})
    assert options.interruption_mode == "sometimes"
    assert not options.interruption_mode.is_known
    assert options.to_dict()["InterruptionMode"] == "sometimes"
    config = Config.from_dict({"Mode": "turbo"})
    assert (config.mode, config.to_dict()["Mode"]) == ("turbo", "turbo")


def test_event_data_is_typed_by_the_event_type() -> None:
    event = Event.from_dict(load("event"))
    assert event.data == UserTranscript(text="hello there", final=True)
    assert event.data_as(UserTranscript).text == "hello there"
