"""Pure mapping from livekit-agents AgentSession events to omnivoice ``Event``s, and the
per-session bookkeeping (transcript, metrics) derived from the same events.

No I/O: :class:`EventMapper` takes livekit event objects and returns lists of
:class:`~omnivoice_rtc.types.Event`; :class:`SessionStats` accumulates turns and metrics.
``LiveKitSession`` feeds both from ``AgentSession.on(...)`` callbacks. The table is in
docs/sessions.md ("Event mapping").
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from livekit.agents import llm, metrics
from livekit.agents.voice import events as lk

from omnivoice_rtc.types import Event, EventType, Metrics, ToolCall, Turn

__all__ = ["EventMapper", "SessionStats", "error_source", "tool_calls_from"]


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
    """One ToolCall per executed function; ``duration_ms`` from call to output creation."""
    calls: list[ToolCall] = []
    for call, output in ev.zipped():
        try:
            arguments = json.loads(call.arguments) if call.arguments else {}
        except json.JSONDecodeError:
            arguments = {"_raw": call.arguments}
        if not isinstance(arguments, dict):
            arguments = {"_value": arguments}
        calls.append(
            ToolCall(
                name=call.name,
                arguments=arguments,
                result="" if output.is_error else output.output,
                error=output.output if output.is_error else "",
                duration_ms=_ms(output.created_at - call.created_at),
            )
        )
    return calls


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
            data = {"duration_ms": _ms(ev.created_at - started)} if started is not None else None
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
            data = {"duration_ms": _ms(ev.created_at - started)} if started is not None else None
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
        data: dict[str, Any] = {"text": text, "final": True}
        if ev.language:
            data["language"] = str(ev.language)
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
                data={"text": text, "interrupted": item.interrupted},
            )
        ]
        if item.interrupted:
            out.append(
                Event(
                    type=EventType.INTERRUPTION, timestamp=_ts(ev.created_at), data={"text": text}
                )
            )
        return out

    def tools_executed(self, ev: lk.FunctionToolsExecutedEvent) -> list[Event]:
        return [
            Event(type=EventType.TOOL_CALL, timestamp=_ts(ev.created_at), data=call.to_dict())
            for call in tool_calls_from(ev)
        ]

    def error(self, ev: lk.ErrorEvent) -> list[Event]:
        return [
            Event(
                type=EventType.ERROR,
                timestamp=_ts(ev.created_at),
                data={
                    "source": error_source(ev.source),
                    "recoverable": _error_recoverable(ev.error),
                },
                error=_error_message(ev.error),
            )
        ]

    @staticmethod
    def dtmf(digit: str, *, created_at: float | None = None) -> Event:
        return Event(
            type=EventType.DTMF,
            timestamp=_ts(time.time() if created_at is None else created_at),
            data={"digit": digit},
        )


def _avg_ms(values: list[float]) -> int:
    return _ms(sum(values) / len(values)) if values else 0


class SessionStats:
    """Transcript and metrics of one session, fed with the same livekit events.

    Latencies prefer livekit's per-turn ``ChatMessage.metrics`` (transcription_delay,
    llm_node_ttft, tts_node_ttfb, e2e_latency) and fall back to ``metrics_collected``
    (STTMetrics.duration, LLMMetrics/RealtimeModelMetrics.ttft, TTSMetrics.ttfb).
    """

    def __init__(self, *, started_at: float | None = None) -> None:
        self.started_at = time.time() if started_at is None else started_at
        self.ended_at: float | None = None
        self.turns: list[Turn] = []
        self._stt: list[float] = []
        self._llm: list[float] = []
        self._tts: list[float] = []
        self._total: list[float] = []
        self._stt_fallback: list[float] = []
        self._llm_fallback: list[float] = []
        self._tts_fallback: list[float] = []
        self._pending_tools: list[ToolCall] = []
        self.user_speech_s = 0.0
        self.agent_speech_s = 0.0
        self.interruptions = 0
        self.tool_calls = 0
        self.errors = 0
        self.audio_bytes_received = 0
        self.audio_bytes_sent = 0

    # -- feeding -------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Count what an already-mapped event tells (durations, interruptions, errors)."""
        data = event.data if isinstance(event.data, dict) else {}
        if event.type is EventType.USER_SPEECH_END:
            self.user_speech_s += data.get("duration_ms", 0) / 1000
        elif event.type is EventType.AGENT_SPEECH_END:
            self.agent_speech_s += data.get("duration_ms", 0) / 1000
        elif event.type is EventType.INTERRUPTION:
            self.interruptions += 1
        elif event.type is EventType.ERROR:
            self.errors += 1

    def on_conversation_item(self, ev: lk.ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, llm.ChatMessage) or item.role not in ("user", "assistant"):
            return
        report = item.metrics
        started = report.get("started_speaking_at")
        stopped = report.get("stopped_speaking_at")
        duration_ms = _ms(stopped - started) if started and stopped and stopped > started else 0
        if item.role == "user":
            if (delay := report.get("transcription_delay")) is not None:
                self._stt.append(delay)
            self.turns.append(
                Turn(
                    role="user",
                    text=item.text_content or "",
                    timestamp=_ts(item.created_at),
                    duration_ms=duration_ms,
                )
            )
            return
        if (ttft := report.get("llm_node_ttft")) is not None:
            self._llm.append(ttft)
        if (ttfb := report.get("tts_node_ttfb")) is not None:
            self._tts.append(ttfb)
        if (e2e := report.get("e2e_latency")) is not None:
            self._total.append(e2e)
        self.turns.append(
            Turn(
                role="agent",
                text=item.text_content or "",
                timestamp=_ts(item.created_at),
                duration_ms=duration_ms,
                tool_calls=self._pending_tools,
            )
        )
        self._pending_tools = []

    def on_tools_executed(self, ev: lk.FunctionToolsExecutedEvent) -> None:
        calls = tool_calls_from(ev)
        self.tool_calls += len(calls)
        self._pending_tools.extend(calls)

    def on_metrics(self, ev: lk.MetricsCollectedEvent) -> None:
        m = ev.metrics
        if isinstance(m, metrics.STTMetrics) and m.duration > 0:
            self._stt_fallback.append(m.duration)
        elif isinstance(m, metrics.LLMMetrics | metrics.RealtimeModelMetrics) and m.ttft >= 0:
            self._llm_fallback.append(m.ttft)
        elif isinstance(m, metrics.TTSMetrics) and m.ttfb >= 0:
            self._tts_fallback.append(m.ttfb)

    def close(self, *, ended_at: float | None = None) -> None:
        if self.ended_at is None:
            self.ended_at = time.time() if ended_at is None else ended_at
        if self._pending_tools:  # tools ran but no agent message followed
            self.turns.append(Turn(role="agent", text="", tool_calls=self._pending_tools))
            self._pending_tools = []

    # -- reading -------------------------------------------------------------------------
    def transcript(self) -> list[Turn]:
        return list(self.turns)

    def metrics(self) -> Metrics:
        end = self.ended_at if self.ended_at is not None else time.time()
        return Metrics(
            session_duration_ms=_ms(end - self.started_at),
            turn_count=len(self.turns),
            user_speech_duration_ms=_ms(self.user_speech_s),
            agent_speech_duration_ms=_ms(self.agent_speech_s),
            avg_stt_latency_ms=_avg_ms(self._stt or self._stt_fallback),
            avg_llm_latency_ms=_avg_ms(self._llm or self._llm_fallback),
            avg_tts_latency_ms=_avg_ms(self._tts or self._tts_fallback),
            avg_total_latency_ms=_avg_ms(self._total),
            interruption_count=self.interruptions,
            tool_call_count=self.tool_calls,
            error_count=self.errors,
            audio_bytes_received=self.audio_bytes_received,
            audio_bytes_sent=self.audio_bytes_sent,
        )
