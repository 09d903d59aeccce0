"""Mapping of real livekit-agents event objects to omnivoice Events, and the feeding of a
session's ConversationStats from them."""

from __future__ import annotations

import pytest
from livekit.agents import APIError, llm, metrics, tts
from livekit.agents.language import LanguageCode
from livekit.agents.voice import events as lk

from omnivoice_rtc.agent.event_map import (
    EventMapper,
    add_collected_metrics,
    add_conversation_item,
    error_source,
    tool_calls_from,
)
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.pipelines.llm_adapter import ProviderToolCallsEvent
from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM
from omnivoice_rtc.pipelines.local.stt import PocketSphinxSTT
from omnivoice_rtc.pipelines.local.tts import EspeakTTS
from omnivoice_rtc.types import (
    AgentTranscript,
    Dtmf,
    ErrorDetail,
    EventType,
    Interruption,
    SpeechEnded,
    ToolCall,
    UserTranscript,
)

pytestmark = pytest.mark.unit

T0 = 1_800_000_000.0


def user_state(old: str, new: str, at: float) -> lk.UserStateChangedEvent:
    return lk.UserStateChangedEvent(old_state=old, new_state=new, created_at=at)  # type: ignore[arg-type]  # literal states


def agent_state(old: str, new: str, at: float) -> lk.AgentStateChangedEvent:
    return lk.AgentStateChangedEvent(old_state=old, new_state=new, created_at=at)  # type: ignore[arg-type]  # literal states


def message(
    role: str, text: str, *, interrupted: bool = False, at: float = T0, **report: float
) -> lk.ConversationItemAddedEvent:
    item = llm.ChatMessage(role=role, content=[text], interrupted=interrupted, created_at=at)  # type: ignore[arg-type]  # literal role
    item.metrics.update(report)  # type: ignore[typeddict-item]  # MetricsReport keys
    return lk.ConversationItemAddedEvent(item=item, created_at=at)


def tools_event() -> lk.FunctionToolsExecutedEvent:
    call = llm.FunctionCall(
        call_id="c1", name="get_weather", arguments='{"city": "Paris"}', created_at=T0
    )
    out = llm.FunctionCallOutput(
        call_id="c1", name="get_weather", output="sunny", is_error=False, created_at=T0 + 0.25
    )
    bad_call = llm.FunctionCall(call_id="c2", name="book", arguments="not json", created_at=T0)
    bad_out = llm.FunctionCallOutput(
        call_id="c2", name="book", output="no seats", is_error=True, created_at=T0 + 1
    )
    return lk.FunctionToolsExecutedEvent(
        function_calls=[call, bad_call], function_call_outputs=[out, bad_out]
    )


def test_user_speech_start_and_end_with_duration() -> None:
    mapper = EventMapper()
    start = mapper.user_state(user_state("listening", "speaking", T0))
    end = mapper.user_state(user_state("speaking", "listening", T0 + 1.5))
    assert [e.type for e in start] == [EventType.USER_SPEECH_START]
    assert start[0].timestamp.timestamp() == T0
    assert [e.type for e in end] == [EventType.USER_SPEECH_END]
    assert end[0].data == SpeechEnded(duration_ms=1500)
    assert end[0].to_dict()["data"] == {"duration_ms": 1500}
    assert mapper.user_state(user_state("listening", "away", T0 + 2)) == []


def test_agent_states_thinking_speaking_end() -> None:
    mapper = EventMapper()
    assert [e.type for e in mapper.agent_state(agent_state("listening", "thinking", T0))] == [
        EventType.AGENT_THINKING
    ]
    assert [e.type for e in mapper.agent_state(agent_state("thinking", "speaking", T0 + 0.2))] == [
        EventType.AGENT_SPEECH_START
    ]
    end = mapper.agent_state(agent_state("speaking", "thinking", T0 + 2.2))
    assert [e.type for e in end] == [EventType.AGENT_SPEECH_END, EventType.AGENT_THINKING]
    assert end[0].data == SpeechEnded(duration_ms=2000)
    assert end[0].to_dict()["data"] == {"duration_ms": 2000}
    assert mapper.agent_state(agent_state("initializing", "listening", T0)) == []


def test_only_final_non_empty_transcripts_are_mapped() -> None:
    mapper = EventMapper()
    assert (
        mapper.user_transcribed(lk.UserInputTranscribedEvent(transcript="hel", is_final=False))
        == []
    )
    assert (
        mapper.user_transcribed(lk.UserInputTranscribedEvent(transcript="  ", is_final=True)) == []
    )
    [event] = mapper.user_transcribed(
        lk.UserInputTranscribedEvent(
            transcript=" hello there ", is_final=True, language=LanguageCode("en")
        )
    )
    assert event.type is EventType.USER_TRANSCRIPT
    assert event.data == UserTranscript(text="hello there", final=True, language="en")
    assert event.to_dict()["data"] == {"text": "hello there", "final": True, "language": "en"}


def test_assistant_items_map_to_agent_transcript_and_interruption() -> None:
    mapper = EventMapper()
    assert mapper.conversation_item(message("user", "hi")) == []
    [done] = mapper.conversation_item(message("assistant", "All good."))
    assert done.type is EventType.AGENT_TRANSCRIPT
    assert done.data == AgentTranscript(text="All good.", interrupted=False)
    assert done.to_dict()["data"] == {"text": "All good.", "interrupted": False}
    cut = mapper.conversation_item(message("assistant", "Once upon", interrupted=True))
    assert [e.type for e in cut] == [EventType.AGENT_TRANSCRIPT, EventType.INTERRUPTION]
    assert cut[1].data == Interruption(text="Once upon")
    assert cut[1].to_dict()["data"] == {"text": "Once upon"}


def test_tool_calls_carry_arguments_result_error_and_duration() -> None:
    calls = tool_calls_from(tools_event())
    assert calls[0].name == "get_weather"
    assert calls[0].arguments == {"city": "Paris"}
    assert calls[0].result == "sunny"
    assert calls[0].duration_ms == 250
    assert calls[1].arguments == {"_raw": "not json"}
    assert calls[1].error == "no seats"
    assert calls[1].result == ""
    events = EventMapper().tools_executed(tools_event())
    assert [e.type for e in events] == [EventType.TOOL_CALL, EventType.TOOL_CALL]
    assert events[0].data_as(ToolCall).name == "get_weather"
    assert events[0].to_dict()["data"] == calls[0].to_dict()


def test_errors_name_their_source_and_recoverability() -> None:
    espeak = EspeakTTS()
    error = tts.TTSError(
        timestamp=T0,
        label="espeak",
        error=APIError("espeak-ng exited with status 1"),
        recoverable=False,
    )
    [event] = EventMapper().error(lk.ErrorEvent(error=error, source=espeak, created_at=T0))
    assert event.type is EventType.ERROR
    assert event.error == "espeak-ng exited with status 1"
    assert event.data == ErrorDetail(source="tts", recoverable=False)
    assert event.to_dict()["data"] == {"source": "tts", "recoverable": False}
    assert error_source(RulesResponderLLM()) == "llm"
    assert error_source(PocketSphinxSTT()) == "stt"
    assert error_source(object()) == "unknown"


def test_dtmf_event_data() -> None:
    event = EventMapper.dtmf("5", created_at=T0)
    assert event.type is EventType.DTMF
    assert event.data == Dtmf(digit="5")
    assert event.to_dict()["data"] == {"digit": "5"}


def test_session_stats_turns_latencies_and_counters() -> None:
    """What LiveKitSession does: every mapped event to on_event, conversation items and
    metrics_collected through the event_map feeders."""
    stats = ConversationStats(started_at=T0)
    mapper = EventMapper()
    for ev in (
        user_state("listening", "speaking", T0),
        user_state("speaking", "listening", T0 + 2),
    ):
        for e in mapper.user_state(ev):
            stats.on_event(e)
    add_conversation_item(
        stats,
        message(
            "user",
            "order a pizza",
            at=T0 + 2.3,
            transcription_delay=0.3,
            started_speaking_at=T0,
            stopped_speaking_at=T0 + 2,
        ),
    )
    for e in mapper.tools_executed(tools_event()):
        stats.on_event(e)
    add_conversation_item(
        stats,
        message(
            "assistant",
            "You said: order a pizza.",
            at=T0 + 3,
            llm_node_ttft=0.01,
            tts_node_ttfb=0.05,
            e2e_latency=0.7,
        ),
    )
    cut = message("assistant", "Once", interrupted=True, at=T0 + 5)
    for e in mapper.conversation_item(cut):
        stats.on_event(e)
    add_conversation_item(stats, cut)
    add_collected_metrics(
        stats,
        lk.MetricsCollectedEvent(
            metrics=metrics.TTSMetrics(
                label="x",
                request_id="r",
                timestamp=T0,
                ttfb=9.0,
                duration=1.0,
                audio_duration=1.0,
                cancelled=False,
                characters_count=3,
                streamed=False,
            )
        ),
    )
    stats.audio_bytes_received = 3200
    stats.close(T0 + 10)
    turns = stats.transcript()
    assert [t.role for t in turns] == ["user", "agent", "agent"]
    assert turns[0].duration_ms == 2000
    assert [c.name for c in turns[1].tool_calls] == ["get_weather", "book"]
    m = stats.metrics()
    assert m.session_duration_ms == 10_000
    assert m.turn_count == 3
    assert m.user_speech_duration_ms == 2000
    assert m.avg_stt_latency_ms == 300
    assert m.avg_llm_latency_ms == 10
    assert m.avg_tts_latency_ms == 50  # per-turn metrics win over metrics_collected
    assert m.avg_total_latency_ms == 700
    assert m.interruption_count == 1
    assert m.tool_call_count == 2
    assert m.audio_bytes_received == 3200


def test_metrics_fall_back_to_metrics_collected() -> None:
    stats = ConversationStats(started_at=T0)
    add_collected_metrics(
        stats,
        lk.MetricsCollectedEvent(
            metrics=metrics.STTMetrics(
                label="s",
                request_id="r",
                timestamp=T0,
                duration=0.2,
                audio_duration=1.0,
                streamed=False,
            )
        ),
    )
    add_collected_metrics(
        stats,
        lk.MetricsCollectedEvent(
            metrics=metrics.LLMMetrics(
                label="l",
                request_id="r",
                timestamp=T0,
                duration=1.0,
                ttft=0.4,
                cancelled=False,
                completion_tokens=1,
                prompt_tokens=1,
                prompt_cached_tokens=0,
                total_tokens=2,
                tokens_per_second=1.0,
            )
        ),
    )
    m = stats.metrics()
    assert m.avg_stt_latency_ms == 200
    assert m.avg_llm_latency_ms == 400
    assert m.avg_tts_latency_ms == 0
    assert m.error_count == 0


def test_tool_calls_an_llm_provider_reports_become_tool_call_events() -> None:
    booked = ToolCall(name="book", arguments={"n": 2}, result="ok", duration_ms=3)
    report = ProviderToolCallsEvent(request_id="r1", input="a table", tool_calls=[booked])
    [event] = EventMapper.provider_tools(report)
    assert (event.type, event.data) == (EventType.TOOL_CALL, booked)
    assert EventMapper.provider_tools(ProviderToolCallsEvent(request_id="r2", input="")) == []
