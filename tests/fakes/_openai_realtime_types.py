"""Options, records and small helpers of the OpenAI Realtime fake (see openai_realtime.py)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ._common import FakeToolCall

__all__ = [
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "ConnectionRecord",
    "RealtimeFakeOptions",
    "ResponseRecord",
]

SAMPLE_RATE = 24000
"""Realtime API audio rate, both directions (Hz, s16le mono)."""
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000


@dataclass(slots=True)
class RealtimeFakeOptions:
    """Behaviour of :class:`OpenAIRealtimeFake` (see the module doc)."""

    user_transcript: str = "hello there"
    reply_text: str | Callable[[str], str] = "Hello from the fake realtime model."
    tool_call: FakeToolCall | None = None
    tool_reply: str = "The tool said {output}."
    audio: Literal["tone", "espeak"] = "tone"
    tone_ms_per_char: int = 30
    min_reply_ms: int = 600
    audio_chunk_ms: int = 100
    pacing: float = 0.0
    latency_ms: int = 0
    vad_threshold_rms: float = 300.0
    silence_ms: int | None = None
    reject_status: int | None = None
    error_on: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_responses: int = 0
    drop_after_events: int | None = None


@dataclass(slots=True)
class ConnectionRecord:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass(slots=True)
class ResponseRecord:
    id: str
    kind: Literal["message", "function_call"]
    text: str = ""
    status: str = "in_progress"
    audio_bytes: int = 0
    trigger: str = ""


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def redact(event: dict[str, Any]) -> dict[str, Any]:
    if event.get("type") in ("input_audio_buffer.append", "response.output_audio.delta"):
        key = "audio" if "audio" in event else "delta"
        raw = event.get(key)
        if isinstance(raw, str):
            return {**event, key: f"<{len(base64.b64decode(raw))} bytes>"}
    return event
