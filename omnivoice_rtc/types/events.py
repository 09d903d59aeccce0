"""Session events (Go ``Event``): one type, a timestamp, optional data and error.

``data`` is any JSON value; ``error`` is the error's message (Go marshals an
``error`` interface as ``{}``, which carries nothing; we keep the message instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from omnivoice_rtc._gojson import format_time, parse_time
from omnivoice_rtc.types._gostruct import GoStruct, go_field
from omnivoice_rtc.types.enums import EventType

__all__ = ["Event"]


def _decode_event_type(raw: Any, field: str) -> EventType:
    if not isinstance(raw, str):
        raise ValueError(f"{field}: expected str, got {type(raw).__name__}")
    try:
        return EventType(raw)
    except ValueError:
        raise ValueError(f"{field}: unknown event type {raw!r}") from None


def _decode_error(raw: Any, field: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):  # what Go writes for an error value
        return str(raw.get("message", "")) or "error"
    raise ValueError(f"{field}: expected str, got {type(raw).__name__}")


@dataclass(slots=True)
class Event(GoStruct):
    """A session event. ``timestamp`` is timezone-aware UTC by default."""

    __go_name__ = "Event"

    type: EventType = go_field("type", encode=str, decode=_decode_event_type)
    timestamp: datetime = go_field(
        "timestamp",
        encode=format_time,
        decode=lambda raw, field: parse_time(raw, field=field),
        default_factory=lambda: datetime.now(UTC),
    )
    data: Any = go_field("data", omitempty=True, default=None)
    error: str | None = go_field("error", omitempty=True, decode=_decode_error, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.type, EventType):
            self.type = EventType(self.type)
