"""The contract every pipeline builder returns: the parts an AgentSession is made of.

A builder takes configuration and returns :class:`PipelineParts`; the session code
passes them to ``livekit.agents.AgentSession``. Builders validate configuration at
startup and raise :class:`~omnivoice_rtc.ConfigError` naming the setting or env var.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PipelineParts"]


@dataclass(slots=True)
class PipelineParts:
    """Components for one AgentSession. Unused parts stay None.

    ``llm`` is either a livekit-agents ``llm.LLM`` (text/local) or an
    ``llm.RealtimeModel`` (realtime). ``tools`` are livekit-agents function tools.
    ``session_options`` are extra AgentSession keyword arguments (e.g. endpointing).
    """

    name: str
    stt: Any = None
    llm: Any = None
    tts: Any = None
    vad: Any = None
    tools: list[Any] = field(default_factory=list)
    instructions: str = "You are a helpful voice assistant. Keep answers short."
    session_options: dict[str, Any] = field(default_factory=dict)
