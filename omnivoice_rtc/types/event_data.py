"""Typed ``Event.data``: one small frozen dataclass per event type (a discriminated union).

The event's ``type`` says which payload its ``data`` holds; the JSON is the same object
this library always wrote (docs/sessions.md, "Event mapping"):

=========================================  ===============================================
``type``                                   ``data``
=========================================  ===============================================
``session_started``                        :class:`SessionStarted` (LiveKitSession) or none
``user_speech_end``, ``agent_speech_end``  :class:`SpeechEnded` ``{duration_ms}``
``user_transcript``                        :class:`UserTranscript`
``agent_transcript``                       :class:`AgentTranscript`
``tool_call``                              :class:`~omnivoice_rtc.types.ToolCall`
``interruption``                           :class:`Interruption` ``{text}``
``error``                                  :class:`ErrorDetail` ``{source, recoverable}``
``audio_received``, ``audio_sent``         :class:`AudioBytes` ``{bytes, total_bytes}``
``dtmf``                                   :class:`Dtmf` ``{digit}``
``session_ended``                          :class:`SessionEnded` (LiveKitSession) or none
other types (``user_speech_start``, …)     none
=========================================  ===============================================

Reading (:func:`parse_event_data`) never fails: Go's ``Event.Data`` is ``any``, so data
of an unknown type, of a type that carries none, or whose shape is not the payload's
(other keys, a JSON type that does not fit) is kept as :class:`RawData` and written
back unchanged. A Python caller building an ``Event`` must pass the type's payload
(or ``RawData``, or nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from omnivoice_rtc.types._gostruct import GoStruct, go_field
from omnivoice_rtc.types.conversation import ToolCall, Turn
from omnivoice_rtc.types.enums import EventType
from omnivoice_rtc.types.metrics import Metrics

__all__ = [
    "PAYLOAD_TYPES",
    "AgentTranscript",
    "AudioBytes",
    "Dtmf",
    "ErrorDetail",
    "EventData",
    "Interruption",
    "RawData",
    "SessionEnded",
    "SessionStarted",
    "SpeechEnded",
    "UserTranscript",
    "encode_event_data",
    "parse_event_data",
]


@dataclass(frozen=True, slots=True)
class SpeechEnded(GoStruct):
    """``user_speech_end`` / ``agent_speech_end``: how long the speech lasted (ms)."""

    duration_ms: int = go_field("duration_ms", kind=int, default=0)


@dataclass(frozen=True, slots=True)
class UserTranscript(GoStruct):
    """``user_transcript``: a final user utterance. ``language`` (e.g. "en") and
    ``source`` ("text" for :meth:`send_text`) are written only when set."""

    text: str = go_field("text", kind=str, default="")
    final: bool = go_field("final", kind=bool, default=True)
    language: str = go_field("language", kind=str, omitempty=True, default="")
    source: str = go_field("source", kind=str, omitempty=True, default="")


@dataclass(frozen=True, slots=True)
class AgentTranscript(GoStruct):
    """``agent_transcript``: what the agent said; ``interrupted`` if it was cut off."""

    text: str = go_field("text", kind=str, default="")
    interrupted: bool = go_field("interrupted", kind=bool, default=False)


@dataclass(frozen=True, slots=True)
class Interruption(GoStruct):
    """``interruption``: what the agent had said before the cut ("" when unknown)."""

    text: str = go_field("text", kind=str, default="")


@dataclass(frozen=True, slots=True)
class ErrorDetail(GoStruct):
    """``error``: which part failed (stt, llm, tts, realtime, vad, bridge, unknown) and
    whether the session goes on; the message is ``Event.error``."""

    source: str = go_field("source", kind=str, default="unknown")
    recoverable: bool = go_field("recoverable", kind=bool, default=False)


@dataclass(frozen=True, slots=True)
class SessionStarted(GoStruct):
    """``session_started`` of a LiveKitSession: who, where, which pipeline and mode."""

    participant: str = go_field("participant", kind=str, default="")
    room: str = go_field("room", kind=str, default="")
    pipeline: str = go_field("pipeline", kind=str, default="")
    interruption_mode: str = go_field("interruption_mode", kind=str, default="")


def _decode_turns(raw: Any, name: str) -> tuple[Turn, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{name}: expected list, got {type(raw).__name__}")
    return tuple(Turn.from_dict(item) for item in raw)


def _decode_paths(raw: Any, name: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise ValueError(f"{name}: expected a list of strings")
    return tuple(raw)


@dataclass(frozen=True, slots=True)
class SessionEnded(GoStruct):
    """``session_ended`` of a LiveKitSession: the agent's final report.

    ``transcript_truncated`` is set (and written) when the ``omnivoice.events`` packet
    had to drop the oldest turns to fit (:mod:`omnivoice_rtc.livekit.data_topics`).
    """

    reason: str = go_field("reason", kind=str, default="")
    metrics: Metrics = go_field(
        "metrics",
        encode=lambda m: m.to_dict(),
        decode=lambda raw, _name: Metrics.from_dict(raw),
        default_factory=Metrics,
    )
    transcript: tuple[Turn, ...] = go_field(
        "transcript",
        encode=lambda turns: [t.to_dict() for t in turns],
        decode=_decode_turns,
        default=(),
    )
    transcript_truncated: bool = go_field(
        "transcript_truncated", kind=bool, omitempty=True, default=False
    )
    recording: tuple[str, ...] = go_field(
        "recording",
        omitempty=True,
        encode=list,
        decode=lambda raw, name: _decode_paths(raw, name),
        default=(),
    )
    """The call's recording (``OMNIVOICE_RECORD_CALLS``): each recorded track's file."""


@dataclass(frozen=True, slots=True)
class AudioBytes(GoStruct):
    """``audio_received`` / ``audio_sent``: PCM16 bytes since the previous report
    (JSON ``bytes``) and since the session started."""

    bytes_since_last: int = go_field("bytes", kind=int, default=0)
    total_bytes: int = go_field("total_bytes", kind=int, default=0)


@dataclass(frozen=True, slots=True)
class Dtmf(GoStruct):
    """``dtmf``: one keypad digit (0-9, *, #, A-D) from a phone caller."""

    digit: str = go_field("digit", kind=str, default="")


@dataclass(frozen=True, slots=True)
class RawData:
    """Data kept as the JSON value it arrived as (any type, any shape)."""

    value: Any = field(default=None)


EventData = (
    SpeechEnded
    | UserTranscript
    | AgentTranscript
    | Interruption
    | ErrorDetail
    | SessionStarted
    | SessionEnded
    | AudioBytes
    | Dtmf
    | ToolCall
    | RawData
)
"""What ``Event.data`` holds (or None)."""

PAYLOAD_TYPES: Final[Mapping[EventType, type[GoStruct]]] = {
    EventType.SESSION_STARTED: SessionStarted,
    EventType.USER_SPEECH_END: SpeechEnded,
    EventType.AGENT_SPEECH_END: SpeechEnded,
    EventType.USER_TRANSCRIPT: UserTranscript,
    EventType.AGENT_TRANSCRIPT: AgentTranscript,
    EventType.TOOL_CALL: ToolCall,
    EventType.INTERRUPTION: Interruption,
    EventType.ERROR: ErrorDetail,
    EventType.AUDIO_RECEIVED: AudioBytes,
    EventType.AUDIO_SENT: AudioBytes,
    EventType.DTMF: Dtmf,
    EventType.SESSION_ENDED: SessionEnded,
}
"""The payload class of each event type that carries data."""


def parse_event_data(event_type: EventType, raw: Any) -> EventData:
    """The typed payload for ``raw`` (a JSON value) under ``event_type``; never raises.

    The payload is used when ``raw`` is an object with exactly the payload's keys (the
    optional ones may be absent) whose values have the right JSON types; anything else
    is kept as :class:`RawData`, so writing it back gives the same JSON.
    """
    kind = PAYLOAD_TYPES.get(event_type)
    if kind is None or not isinstance(raw, dict):
        return RawData(raw)
    try:
        payload = kind.from_dict(raw)
    except ValueError:
        return RawData(raw)
    if set(payload.to_dict()) != set(raw):
        return RawData(raw)
    assert isinstance(payload, EventData)  # reason: PAYLOAD_TYPES holds EventData classes
    return payload


def encode_event_data(data: EventData) -> Any:
    """The JSON value of a payload (``RawData`` as it was received)."""
    if isinstance(data, RawData):
        return data.value
    return data.to_dict()
