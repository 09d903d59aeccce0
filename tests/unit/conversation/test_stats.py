"""ConversationStats: turns, counters, latencies and the Go Metrics (ms) from events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnivoice_rtc.conversation import ConversationStats, build_tool_call
from omnivoice_rtc.types import (
    ErrorDetail,
    Event,
    EventType,
    Interruption,
    Metrics,
    RawData,
    SpeechEnded,
    TurnLatency,
    UserTranscript,
)

pytestmark = pytest.mark.unit

T0 = 1_800_000_000.0


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def test_events_count_speech_interruptions_errors_and_tool_calls() -> None:
    stats = ConversationStats(started_at=T0)
    weather = build_tool_call(name="get_weather", arguments='{"city": "Paris"}', result="sunny")
    for event in (
        Event(type=EventType.USER_SPEECH_END, data=SpeechEnded(duration_ms=1500)),
        Event(type=EventType.USER_SPEECH_END, data=SpeechEnded(duration_ms=499)),
        Event(type=EventType.AGENT_SPEECH_END, data=SpeechEnded(duration_ms=2001)),
        Event(type=EventType.USER_SPEECH_END),  # no duration known: counts nothing
        Event(type=EventType.INTERRUPTION, data=Interruption(text="Once")),
        Event(type=EventType.ERROR, data=ErrorDetail(source="tts"), error="boom"),
        Event(type=EventType.ERROR, data=RawData({"odd": True}), error="from Go"),
        Event(type=EventType.TOOL_CALL, data=weather),
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi")),  # no turn
    ):
        stats.on_event(event)
    stats.close(T0 + 10)
    assert stats.metrics() == Metrics(
        session_duration_ms=10_000,
        turn_count=1,  # the tool call no agent turn took, flushed by close()
        user_speech_duration_ms=1999,
        agent_speech_duration_ms=2001,
        interruption_count=1,
        tool_call_count=1,
        error_count=2,
    )
    [flushed] = stats.transcript()
    assert (flushed.role, flushed.text, flushed.tool_calls) == ("agent", "", [weather])


def test_tool_calls_attach_to_the_next_agent_turn_only() -> None:
    stats = ConversationStats(started_at=T0)
    first = build_tool_call(name="a", arguments="{}")
    second = build_tool_call(name="b", arguments="{}")
    stats.add_user_turn("book a table", timestamp=_at(1), duration_s=1.2)
    stats.on_event(Event(type=EventType.TOOL_CALL, data=first))
    stats.on_event(Event(type=EventType.TOOL_CALL, data=second))
    stats.add_agent_turn("Booked.", timestamp=_at(3), duration_s=0.8)
    stats.add_agent_turn("Anything else?", timestamp=_at(4))
    stats.close(T0 + 5)
    turns = stats.transcript()
    assert [(t.role, t.text, t.duration_ms) for t in turns] == [
        ("user", "book a table", 1200),
        ("agent", "Booked.", 800),
        ("agent", "Anything else?", 0),
    ]
    assert turns[1].tool_calls == [first, second]
    assert turns[2].tool_calls == []
    assert turns[0].timestamp == _at(1)
    assert stats.metrics().turn_count == 3


def test_latencies_average_in_ms_and_fallbacks_count_only_without_regular_samples() -> None:
    stats = ConversationStats(started_at=T0)
    stats.add_latency("stt", 0.2)
    stats.add_latency("stt", 0.4)
    stats.add_latency("stt", 9.0, fallback=True)  # a regular figure exists: ignored
    stats.add_latency("llm", 0.25, fallback=True)
    stats.add_latency("tts", -1.0)  # negative: ignored
    stats.add_latency("total", 0.7)
    m = stats.metrics()
    assert (m.avg_stt_latency_ms, m.avg_llm_latency_ms, m.avg_tts_latency_ms) == (300, 250, 0)
    assert m.avg_total_latency_ms == 700


def test_session_duration_runs_until_close_and_start_is_set_once() -> None:
    stats = ConversationStats()
    assert stats.metrics().session_duration_ms == 0  # not started
    stats.start(T0)
    stats.start(T0 + 100)
    stats.close(T0 + 2.5)
    stats.close(T0 + 50)
    assert stats.metrics().session_duration_ms == 2500


def test_audio_bytes_are_what_the_owner_counted() -> None:
    stats = ConversationStats(started_at=T0)
    stats.audio_bytes_received += 3200
    stats.audio_bytes_sent += 640
    m = stats.metrics()
    assert (m.audio_bytes_received, m.audio_bytes_sent) == (3200, 640)


def test_turn_latency_events_fill_the_mouth_to_ear_fields() -> None:
    stats = ConversationStats(started_at=0.0)
    assert stats.metrics().mouth_to_ear_turns == 0
    for ms in (600, 0, 800):  # a zero report measures nothing
        stats.on_event(
            Event(
                type=EventType.TURN_LATENCY,
                data=TurnLatency(mouth_to_ear_ms=ms, measured_by="browser"),
            )
        )
    metrics = stats.metrics()
    assert metrics.mouth_to_ear_turns == 2
    assert metrics.avg_mouth_to_ear_ms == 700
    assert metrics.max_mouth_to_ear_ms == 800
    assert metrics.to_dict()["avg_mouth_to_ear_ms"] == 700


def test_metrics_without_mouth_to_ear_write_only_gos_keys() -> None:
    keys = set(ConversationStats(started_at=0.0).metrics().to_dict())
    assert not keys & {"mouth_to_ear_turns", "avg_mouth_to_ear_ms", "max_mouth_to_ear_ms"}
