"""The contract every pipeline builder returns: the parts an AgentSession is made of.

A builder takes configuration and returns :class:`PipelineParts`; the session code
passes them to ``livekit.agents.AgentSession``. Builders validate configuration at
startup and raise :class:`~omnivoice_rtc.ConfigError` naming the setting or env var.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["INPUT_FRAME_MS", "AdaptiveEndpointing", "PipelineParts"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdaptiveEndpointing:
    """Adaptive endpointing (:mod:`omnivoice_rtc.agent.adaptive_endpointing`): silences
    (ms) that end a user's turn, ``complete_silence_ms`` after an utterance that reads as
    finished, up to ``incomplete_silence_ms`` after one that does not."""

    complete_silence_ms: int = 200
    incomplete_silence_ms: int = 900

    def __post_init__(self) -> None:
        if not 100 <= self.complete_silence_ms <= 2000:
            raise ValueError(
                "AdaptiveEndpointing.complete_silence_ms: must be 100-2000 ms; "
                f"got {self.complete_silence_ms}"
            )
        if not self.complete_silence_ms <= self.incomplete_silence_ms <= 10000:
            raise ValueError(
                "AdaptiveEndpointing.incomplete_silence_ms: must be complete_silence_ms-10000 "
                f"ms; got {self.incomplete_silence_ms}"
            )


INPUT_FRAME_MS = 50
"""Default caller audio frame handed to an agent's VAD and STT (ms): livekit's 50. 20 ms
frames (``OMNIVOICE_INPUT_FRAME_MS=20``) let the VAD see the end of speech up to 30 ms
sooner for ~20-30 % more agent CPU per call: :mod:`omnivoice_rtc.agent.room_audio_output`."""


@dataclass(slots=True)
class PipelineParts:
    """Components for one AgentSession. Unused parts stay None.

    ``llm`` is either a livekit-agents ``llm.LLM`` (text/local) or an
    ``llm.RealtimeModel`` (realtime). ``tools`` are livekit-agents function tools.
    ``session_options`` are extra AgentSession keyword arguments (e.g. endpointing).
    ``endpointing``: adaptive endpointing, applied by our sessions when there is an STT
    and a silero VAD (``None``: the VAD's and ``session_options``' fixed silence).
    """

    name: str
    stt: Any = None
    llm: Any = None
    tts: Any = None
    vad: Any = None
    tools: list[Any] = field(default_factory=list)
    instructions: str = "You are a helpful voice assistant. Keep answers short."
    session_options: dict[str, Any] = field(default_factory=dict)
    endpointing: AdaptiveEndpointing | None = field(default_factory=AdaptiveEndpointing)
    input_frame_ms: int = INPUT_FRAME_MS
    """Caller audio frame handed to the VAD and STT (ms; ``OMNIVOICE_INPUT_FRAME_MS``)."""
