"""Transcript and metrics bookkeeping of a RealtimeBridge (no I/O)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from omnivoice_rtc.types import Metrics, ToolCall, Turn

__all__ = ["BridgeStats"]


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _avg_ms(values: list[float]) -> int:
    return _ms(sum(values) / len(values)) if values else 0


class BridgeStats:
    """Counters, latencies (s) and turns of one bridge; :meth:`metrics` renders them (ms)."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.turns: list[Turn] = []
        self.user_speech_s = 0.0
        self.agent_speech_s = 0.0
        self.interruptions = 0
        self.tool_calls = 0
        self.errors = 0
        self.audio_bytes_received = 0
        self.audio_bytes_sent = 0
        self.user_speaking_since: float | None = None
        self.user_stopped_at: float | None = None
        self._total_latency_s: list[float] = []
        self._llm_latency_s: list[float] = []
        self._pending_tools: list[ToolCall] = []

    def user_speech_started(self, now: float) -> None:
        self.user_speaking_since = now

    def user_speech_stopped(self, now: float) -> float:
        """Record the end of user speech; returns its duration (s)."""
        started = self.user_speaking_since
        self.user_speaking_since = None
        self.user_stopped_at = now
        duration = now - started if started is not None else 0.0
        self.user_speech_s += duration
        return duration

    def first_agent_audio(self, now: float) -> None:
        """First audio of a reply: the user-stopped -> agent-audio latency, once per turn."""
        if self.user_stopped_at is not None:
            self._total_latency_s.append(now - self.user_stopped_at)
            self.user_stopped_at = None

    def llm_ttft(self, seconds: float) -> None:
        if seconds >= 0:
            self._llm_latency_s.append(seconds)

    def user_turn(self, text: str, duration_s: float) -> None:
        self.turns.append(Turn(role="user", text=text, duration_ms=_ms(duration_s)))

    def tool_call(self, call: ToolCall) -> None:
        self.tool_calls += 1
        self._pending_tools.append(call)

    def agent_turn(self, text: str, duration_s: float) -> None:
        self.agent_speech_s += duration_s
        tools, self._pending_tools = self._pending_tools, []
        self.turns.append(
            Turn(role="agent", text=text, duration_ms=_ms(duration_s), tool_calls=tools)
        )

    def metrics(self) -> Metrics:
        end = self.ended_at if self.ended_at is not None else time.time()
        return Metrics(
            session_duration_ms=_ms(end - self.started_at) if self.started_at else 0,
            turn_count=len(self.turns),
            user_speech_duration_ms=_ms(self.user_speech_s),
            agent_speech_duration_ms=_ms(self.agent_speech_s),
            avg_llm_latency_ms=_avg_ms(self._llm_latency_s),
            avg_total_latency_ms=_avg_ms(self._total_latency_s),
            interruption_count=self.interruptions,
            tool_call_count=self.tool_calls,
            error_count=self.errors,
            audio_bytes_received=self.audio_bytes_received,
            audio_bytes_sent=self.audio_bytes_sent,
        )

    @staticmethod
    def timestamp(now: float) -> datetime:
        return datetime.fromtimestamp(now, UTC)
