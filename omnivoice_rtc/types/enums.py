"""String enums of the Go package: ProviderName, PipelineMode, InterruptionMode, EventType.

Go's ``type ProviderName string`` accepts any string, so a Go service may send a value
this version does not list (a newer event type, a carrier added later). These enums are
*open*: ``EventType("custom")`` returns a member whose ``value`` is ``"custom"`` (made
once and kept, so ``is`` comparisons work) instead of raising. ``is_known`` tells the
listed members from such values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

__all__ = ["EventType", "InterruptionMode", "OpenStrEnum", "PipelineMode", "ProviderName"]


class OpenStrEnum(StrEnum):
    """A StrEnum that keeps values it does not list (Go string types accept any string)."""

    @classmethod
    def _missing_(cls, value: Any) -> Self | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper() or "EMPTY"
        member._value_ = value
        # cached so the same value always yields the same object
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]  # reason: the map holds members of cls

    @property
    def is_known(self) -> bool:
        """True for the values this version lists, False for values kept as received."""
        return self._name_ in type(self).__members__


class ProviderName(OpenStrEnum):
    """Identifies a voice gateway provider (Go ``ProviderName``)."""

    TWILIO = "twilio"
    TELNYX = "telnyx"
    VONAGE = "vonage"
    PLIVO = "plivo"
    LIVEKIT = "livekit"


class PipelineMode(OpenStrEnum):
    """How audio is processed (Go ``PipelineMode``).

    ``LOCAL`` is ours: an offline VAD → STT → responder → TTS chain that needs no key.
    """

    TEXT = "text"
    REALTIME = "realtime"
    LOCAL = "local"


class InterruptionMode(OpenStrEnum):
    """What happens when the user talks over the agent (Go ``Config.InterruptionMode``)."""

    IMMEDIATE = "immediate"
    AFTER_SENTENCE = "after_sentence"
    DISABLED = "disabled"


class EventType(OpenStrEnum):
    """The 14 session event types of the Go package, plus two Python additions: ``DTMF``
    (a keypad digit from a phone caller; ``data`` is ``{"digit": "5"}``) and
    ``TURN_LATENCY`` (mouth-to-ear latency of one turn measured at the caller; ``data``
    is ``{"mouth_to_ear_ms": 640, "measured_by": "browser"}``)."""

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
    TURN_LATENCY = "turn_latency"
