"""String enums of the Go package: ProviderName, PipelineMode, InterruptionMode, EventType."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType", "InterruptionMode", "PipelineMode", "ProviderName"]


class ProviderName(StrEnum):
    """Identifies a voice gateway provider (Go ``ProviderName``)."""

    TWILIO = "twilio"
    TELNYX = "telnyx"
    VONAGE = "vonage"
    PLIVO = "plivo"
    LIVEKIT = "livekit"


class PipelineMode(StrEnum):
    """How audio is processed (Go ``PipelineMode``).

    ``LOCAL`` is ours: an offline VAD → STT → responder → TTS chain that needs no key.
    """

    TEXT = "text"
    REALTIME = "realtime"
    LOCAL = "local"


class InterruptionMode(StrEnum):
    """What happens when the user talks over the agent (Go ``Config.InterruptionMode``)."""

    IMMEDIATE = "immediate"
    AFTER_SENTENCE = "after_sentence"
    DISABLED = "disabled"


class EventType(StrEnum):
    """The 14 session event types of the Go package, plus ``DTMF`` (a Python addition:
    a keypad digit from a phone caller; ``data`` is ``{"digit": "5"}``)."""

    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    USER_SPEECH_START = "user_speech_start"
    USER_SPEECH_END = "user_speech_end"
    USER_TRANSCRIPT = "user_transcript"
    AGENT_THINKING = "agent_thinking"
    AGENT_SPEECH_START = "agent_speech_start"
    AGENT_SPEECH_END = "agent_speech_end"
    AGENT_TRANSCRIPT = "agent_transcript"
    TOOL_CALL = "tool_call"
    INTERRUPTION = "interruption"
    ERROR = "error"
    AUDIO_RECEIVED = "audio_received"
    AUDIO_SENT = "audio_sent"
    DTMF = "dtmf"
