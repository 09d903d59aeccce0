"""Pure mapping from livekit-agents AgentSession events to omnivoice ``Event``s, and the
feeding of the session's :class:`~omnivoice_rtc.conversation.ConversationStats` from the
same livekit objects.

No I/O: :class:`EventMapper` takes livekit event objects and returns lists of
:class:`~omnivoice_rtc.types.Event`; :func:`add_conversation_item` and
:func:`add_collected_metrics` add turns and latencies to the stats (which count the
mapped events themselves). ``LiveKitSession`` feeds both from ``AgentSession.on(...)``
callbacks. The table is in docs/sessions.md ("Event mapping").
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from livekit.agents import llm, metrics
from livekit.agents.voice import events as lk

from omnivoice_rtc.conversation import ConversationStats, build_tool_call
from omnivoice_rtc.pipelines.llm_adapter import ProviderToolCallsEvent
from omnivoice_rtc.types import (
    AgentTranscript,
    Dtmf,
    ErrorDetail,
    Event,
    EventType,
    Interruption,
    SpeechEnded,
    ToolCall,
    UserTranscript,
)

__all__ = [
    "EventMapper",
    "add_collected_metrics",
    "add_conversation_item",
    "error_source",
    "tool_calls_from",
]


def _ts(created_at: float) -> datetime:
    return datetime.fromtimestamp(created_at, UTC)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def error_source(source: Any) -> str:
    """ "stt" / "llm" / "tts" / "realtime" / "vad" / "unknown" for an ErrorEvent.source."""
    from livekit.agents import stt, tts, vad

    if isinstance(source, llm.RealtimeModel):
        return "realtime"
    if isinstance(source, llm.LLM):
        return "llm"
    if isinstance(source, stt.STT):
        return "stt"
    if isinstance(source, tts.TTS):
        return "tts"
    if isinstance(source, vad.VAD):
        return "vad"
    return "unknown"


def _error_message(error: Any) -> str:
    inner = getattr(error, "error", None)  # LLMError/STTError/TTSError wrap the exception
    if isinstance(inner, BaseException):
        return str(inner) or type(inner).__name__
    if isinstance(error, BaseException):
        return str(error) or type(error).__name__
    return str(error)


def _error_recoverable(error: Any) -> bool:
    return bool(getattr(error, "recoverable", False))


def tool_calls_from(ev: lk.FunctionToolsExecutedEvent) -> list[ToolCall]:
    """One ToolCall per executed function (:func:`~omnivoice_rtc.conversation.build_tool_call`);
    ``duration_ms`` from the call to its output's creation."""
    return [
        build_tool_call(
            name=call.name,
            arguments=call.arguments,
            result="" if output.is_error else output.output,
            error=output.output if output.is_error else "",
            duration_s=output.created_at - call.created_at,
        )
        for call, output in ev.zipped()
    ]


class EventMapper:
    """Stateless-ish translator; remembers only when speech states began (for durations)."""

    def __init__(self) -> None:
        self._user_speaking_since: float | None = None
        self._agent_speaking_since: float | None = None

    def user_state(self, ev: lk.UserStateChangedEvent) -> list[Event]:
        out: list[Event] = []
        if ev.old_state == "speaking" and ev.new_state != "speaking":
            started = self._user_speaking_since
            self._user_speaking_since = None
            data = (
                SpeechEnded(duration_ms=_ms(ev.created_at - started))
                if started is not None
                else None
            )
            out.append(
                Event(type=EventType.USER_SPEECH_END, timestamp=_ts(ev.created_at), data=data)
            )
        if ev.new_state == "speaking" and ev.old_state != "speaking":
            self._user_speaking_since = ev.created_at
            out.append(Event(type=EventType.USER_SPEECH_START, timestamp=_ts(ev.created_at)))
        return out

    def agent_state(self, ev: lk.AgentStateChangedEvent) -> list[Event]:
        out: list[Event] = []
        if ev.old_state == "speaking" and ev.new_state != "speaking":
            started = self._agent_speaking_since
            self._agent_speaking_since = None
            data = (
                SpeechEnded(duration_ms=_ms(ev.created_at - started))
                if started is not None
                else None
            )
            out.append(
                Event(type=EventType.AGENT_SPEECH_END, timestamp=_ts(ev.created_at), data=data)
            )
        if ev.new_state == "thinking" and ev.old_state != "thinking":
            out.append(Event(type=EventType.AGENT_THINKING, timestamp=_ts(ev.created_at)))
        elif ev.new_state == "speaking" and ev.old_state != "speaking":
            self._agent_speaking_since = ev.created_at
            out.append(Event(type=EventType.AGENT_SPEECH_START, timestamp=_ts(ev.created_at)))
        return out

    def user_transcribed(self, ev: lk.UserInputTranscribedEvent) -> list[Event]:
        text = ev.transcript.strip()
        if not ev.is_final or not text:
            return []
        data = UserTranscript(text=text, final=True, language=str(ev.language or ""))
        return [Event(type=EventType.USER_TRANSCRIPT, timestamp=_ts(ev.created_at), data=data)]

    def conversation_item(self, ev: lk.ConversationItemAddedEvent) -> list[Event]:
        item = ev.item
        if not isinstance(item, llm.ChatMessage) or item.role != "assistant":
            return []
        text = (item.text_content or "").strip()
        out = [
            Event(
                type=EventType.AGENT_TRANSCRIPT,
                timestamp=_ts(ev.created_at),
                data=AgentTranscript(text=text, interrupted=item.interrupted),
            )
        ]
        if item.interrupted:
            out.append(
                Event(
                    type=EventType.INTERRUPTION,
                    timestamp=_ts(ev.created_at),
                    data=Interruption(text=text),
                )
            )
        return out

    def tools_executed(self, ev: lk.FunctionToolsExecutedEvent) -> list[Event]:
        return [
            Event(type=EventType.TOOL_CALL, timestamp=_ts(ev.created_at), data=call)
            for call in tool_calls_from(ev)
        ]

    @staticmethod
    def provider_tools(ev: ProviderToolCallsEvent) -> list[Event]:
        """The calls an ``LLMProvider`` reported for one reply (it ran them itself)."""
        return [Event(type=EventType.TOOL_CALL, data=call) for call in ev.tool_calls]

    def error(self, ev: lk.ErrorEvent) -> list[Event]:
        return [
            Event(
                type=EventType.ERROR,
                timestamp=_ts(ev.created_at),
                data=ErrorDetail(
                    source=error_source(ev.source), recoverable=_error_recoverable(ev.error)
                ),
                error=_error_message(ev.error),
            )
        ]

    @staticmethod
    def dtmf(digit: str, *, created_at: float | None = None) -> Event:
        return Event(
            type=EventType.DTMF,
            timestamp=_ts(time.time() if created_at is None else created_at),
            data=Dtmf(digit=digit),
        )


def add_conversation_item(stats: ConversationStats, ev: lk.ConversationItemAddedEvent) -> None:
    """A user or assistant ChatMessage becomes a Turn, with livekit's per-turn latencies
    (``transcription_delay``, ``llm_node_ttft``, ``tts_node_ttfb``, ``e2e_latency``) and
    the speaking time from its ``started/stopped_speaking_at``."""
    item = ev.item
    if not isinstance(item, llm.ChatMessage) or item.role not in ("user", "assistant"):
        return
    report = item.metrics
    started = report.get("started_speaking_at")
    stopped = report.get("stopped_speaking_at")
    duration_s = stopped - started if started and stopped and stopped > started else 0.0
    text = item.text_content or ""
    if item.role == "user":
        if (delay := report.get("transcription_delay")) is not None:
            stats.add_latency("stt", delay)
        stats.add_user_turn(text, timestamp=_ts(item.created_at), duration_s=duration_s)
        return
    if (ttft := report.get("llm_node_ttft")) is not None:
        stats.add_latency("llm", ttft)
    if (ttfb := report.get("tts_node_ttfb")) is not None:
        stats.add_latency("tts", ttfb)
    if (e2e := report.get("e2e_latency")) is not None:
        stats.add_latency("total", e2e)
    stats.add_agent_turn(text, timestamp=_ts(item.created_at), duration_s=duration_s)


def add_collected_metrics(stats: ConversationStats, ev: lk.MetricsCollectedEvent) -> None:
    """``metrics_collected``: fallback latencies for a pipeline without per-turn figures
    (STTMetrics.duration, LLMMetrics/RealtimeModelMetrics.ttft, TTSMetrics.ttfb)."""
    m = ev.metrics
    if isinstance(m, metrics.STTMetrics) and m.duration > 0:
        stats.add_latency("stt", m.duration, fallback=True)
    elif isinstance(m, metrics.LLMMetrics | metrics.RealtimeModelMetrics):
        stats.add_latency("llm", m.ttft, fallback=True)
    elif isinstance(m, metrics.TTSMetrics):
        stats.add_latency("tts", m.ttfb, fallback=True)
