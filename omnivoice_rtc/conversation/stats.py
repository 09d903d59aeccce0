"""ConversationStats: the transcript and metrics of one conversation, built from its events.

One builder for the three places a conversation is accounted:

* ``LiveKitSession`` feeds every event it emits to :meth:`ConversationStats.on_event`
  and adds turns and latencies from livekit-agents' conversation items and metrics
  (``agent.event_map``);
* ``RealtimeBridge`` feeds every event it emits and adds turns from the model's
  transcripts, the LLM time-to-first-token and its own end-of-speech → first-audio
  latency;
* ``CallSession`` (a phone call observed through its room) feeds the events relayed by
  the agent and adds a turn per final transcript event, until the agent's own final
  report replaces what it counted.

What the events count (:meth:`ConversationStats.on_event`): ``user_speech_end`` /
``agent_speech_end`` durations, ``interruption`` s, ``error`` s, ``tool_call`` s and
``turn_latency`` s (mouth-to-ear per turn, measured at the caller). A
tool call waits for the next agent turn and is attached to it; :meth:`close` puts calls
no agent turn followed into an empty agent turn. Times are wall-clock seconds
(``time.time()``), latencies seconds; :meth:`metrics` renders the Go ``Metrics`` in ms.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from omnivoice_rtc.types import (
    Event,
    EventType,
    Metrics,
    SpeechEnded,
    ToolCall,
    Turn,
    TurnLatency,
)

__all__ = ["ConversationStats", "LatencyKind"]

LatencyKind = Literal["stt", "llm", "tts", "total"]
"""``stt``: end of speech → transcript; ``llm``: time to first token; ``tts``: time to
first audio byte; ``total``: end of the user's speech → the agent starts answering."""


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _avg_ms(values: list[float]) -> int:
    return _ms(sum(values) / len(values)) if values else 0


class ConversationStats:
    """Turns, counters and latencies of one conversation; see the module docstring.

    ``started_at`` (s, wall clock) may be given now or set by :meth:`start`.
    ``audio_bytes_received`` / ``audio_bytes_sent`` are counted by the owner's audio
    path (bytes as that path carries them: PCM16 in a session, telephony bytes in the
    bridge).
    """

    def __init__(self, *, started_at: float | None = None) -> None:
        self.started_at = started_at
        self.ended_at: float | None = None
        self.audio_bytes_received = 0
        self.audio_bytes_sent = 0
        self._turns: list[Turn] = []
        self._pending_tools: list[ToolCall] = []
        self._user_speech_s = 0.0
        self._agent_speech_s = 0.0
        self._interruptions = 0
        self._tool_calls = 0
        self._errors = 0
        self._latency: dict[LatencyKind, list[float]] = {}
        self._fallback: dict[LatencyKind, list[float]] = {}
        self._mouth_to_ear_ms: list[int] = []

    # -- feeding ----------------------------------------------------------------------
    def start(self, now: float | None = None) -> None:
        """Mark the start (once); ``now`` in s, default ``time.time()``."""
        if self.started_at is None:
            self.started_at = time.time() if now is None else now

    def on_event(self, event: Event) -> None:
        """Count what one event of the conversation tells (see the module docstring)."""
        kind, data = event.type, event.data
        if kind is EventType.USER_SPEECH_END and isinstance(data, SpeechEnded):
            self._user_speech_s += data.duration_ms / 1000
        elif kind is EventType.AGENT_SPEECH_END and isinstance(data, SpeechEnded):
            self._agent_speech_s += data.duration_ms / 1000
        elif kind is EventType.INTERRUPTION:
            self._interruptions += 1
        elif kind is EventType.ERROR:
            self._errors += 1
        elif kind is EventType.TOOL_CALL and isinstance(data, ToolCall):
            self._tool_calls += 1
            self._pending_tools.append(data)
        elif (
            kind is EventType.TURN_LATENCY
            and isinstance(data, TurnLatency)
            and data.mouth_to_ear_ms > 0
        ):
            self._mouth_to_ear_ms.append(data.mouth_to_ear_ms)

    def add_user_turn(
        self, text: str, *, timestamp: datetime | None = None, duration_s: float = 0.0
    ) -> None:
        """A user turn; ``duration_s`` (s) is how long the user spoke for it."""
        self._turns.append(
            Turn(
                role="user",
                text=text,
                timestamp=timestamp or datetime.now(UTC),
                duration_ms=_ms(duration_s),
            )
        )

    def add_agent_turn(
        self, text: str, *, timestamp: datetime | None = None, duration_s: float = 0.0
    ) -> None:
        """An agent turn, carrying the tool calls made since the previous one."""
        tools, self._pending_tools = self._pending_tools, []
        self._turns.append(
            Turn(
                role="agent",
                text=text,
                timestamp=timestamp or datetime.now(UTC),
                duration_ms=_ms(duration_s),
                tool_calls=tools,
            )
        )

    def add_latency(self, kind: LatencyKind, seconds: float, *, fallback: bool = False) -> None:
        """One latency sample (s; negative ones are ignored). ``fallback`` samples count
        only for a kind that got no regular sample (livekit's session-wide
        ``metrics_collected`` behind its per-turn figures)."""
        if seconds >= 0:
            (self._fallback if fallback else self._latency).setdefault(kind, []).append(seconds)

    def close(self, now: float | None = None) -> None:
        """Mark the end (once; ``now`` in s) and flush tool calls no agent turn took."""
        if self.ended_at is None:
            self.ended_at = time.time() if now is None else now
        if self._pending_tools:
            self.add_agent_turn("")

    # -- reading ----------------------------------------------------------------------
    def transcript(self) -> list[Turn]:
        """The turns so far (a copy)."""
        return list(self._turns)

    def _avg(self, kind: LatencyKind) -> int:
        return _avg_ms(self._latency.get(kind) or self._fallback.get(kind, []))

    def metrics(self) -> Metrics:
        """The Go ``Metrics`` so far (ms; the session runs until :meth:`close`)."""
        end = self.ended_at if self.ended_at is not None else time.time()
        started = self.started_at
        return Metrics(
            session_duration_ms=_ms(end - started) if started is not None else 0,
            turn_count=len(self._turns),
            user_speech_duration_ms=_ms(self._user_speech_s),
            agent_speech_duration_ms=_ms(self._agent_speech_s),
            avg_stt_latency_ms=self._avg("stt"),
            avg_llm_latency_ms=self._avg("llm"),
            avg_tts_latency_ms=self._avg("tts"),
            avg_total_latency_ms=self._avg("total"),
            interruption_count=self._interruptions,
            tool_call_count=self._tool_calls,
            error_count=self._errors,
            audio_bytes_received=self.audio_bytes_received,
            audio_bytes_sent=self.audio_bytes_sent,
            mouth_to_ear_turns=len(self._mouth_to_ear_ms),
            avg_mouth_to_ear_ms=(
                round(sum(self._mouth_to_ear_ms) / len(self._mouth_to_ear_ms))
                if self._mouth_to_ear_ms
                else 0
            ),
            max_mouth_to_ear_ms=max(self._mouth_to_ear_ms, default=0),
        )
