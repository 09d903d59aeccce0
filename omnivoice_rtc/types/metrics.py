"""Session performance metrics (Go ``Metrics``). Latencies in ms, audio in bytes."""

from __future__ import annotations

from dataclasses import dataclass

from omnivoice_rtc.types._gostruct import GoStruct, go_field

__all__ = ["Metrics"]


@dataclass(slots=True)
class Metrics(GoStruct):
    """Counters and averages for one session. All ``*_ms`` fields are milliseconds.

    The last three fields are Python additions (omitted from the JSON while zero, so a
    session without them writes exactly Go's JSON): mouth-to-ear latency per turn as the
    caller experienced it (``turn_latency`` events; docs/sessions.md).
    """

    __go_name__ = "Metrics"

    session_duration_ms: int = go_field("session_duration_ms", kind=int, default=0)
    turn_count: int = go_field("turn_count", kind=int, default=0)
    user_speech_duration_ms: int = go_field("user_speech_duration_ms", kind=int, default=0)
    agent_speech_duration_ms: int = go_field("agent_speech_duration_ms", kind=int, default=0)
    avg_stt_latency_ms: int = go_field("avg_stt_latency_ms", kind=int, default=0)
    avg_llm_latency_ms: int = go_field("avg_llm_latency_ms", kind=int, default=0)
    avg_tts_latency_ms: int = go_field("avg_tts_latency_ms", kind=int, default=0)
    avg_total_latency_ms: int = go_field("avg_total_latency_ms", kind=int, default=0)
    interruption_count: int = go_field("interruption_count", kind=int, default=0)
    tool_call_count: int = go_field("tool_call_count", kind=int, default=0)
    error_count: int = go_field("error_count", kind=int, default=0)
    audio_bytes_received: int = go_field("audio_bytes_received", kind=int, default=0)
    audio_bytes_sent: int = go_field("audio_bytes_sent", kind=int, default=0)
    mouth_to_ear_turns: int = go_field("mouth_to_ear_turns", kind=int, default=0, omitempty=True)
    """Turns whose mouth-to-ear latency the caller's side measured."""
    avg_mouth_to_ear_ms: int = go_field("avg_mouth_to_ear_ms", kind=int, default=0, omitempty=True)
    """Mean of those turns: end of the caller's speech -> first agent audio heard (ms)."""
    max_mouth_to_ear_ms: int = go_field("max_mouth_to_ear_ms", kind=int, default=0, omitempty=True)
    """The slowest of those turns (ms)."""
