"""Session events (Go ``Event``): one type, a timestamp, optional data and error.

``data`` is the typed payload of the event's type (:mod:`.event_data`); its JSON is
the object Go's ``Data any`` carries. ``error`` is the error's message (Go marshals an
``error`` interface as ``{}``, which carries nothing; we keep the message instead).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from omnivoice_rtc._gojson import format_time, parse_time
from omnivoice_rtc.types._gostruct import GoStruct, go_field, parsing
from omnivoice_rtc.types.enums import EventType
from omnivoice_rtc.types.event_data import (
    PAYLOAD_TYPES,
    EventData,
    RawData,
    encode_event_data,
    parse_event_data,
)

__all__ = ["Event"]

_P = TypeVar("_P")


def _decode_event_type(raw: Any, field: str) -> EventType:
    if not isinstance(raw, str):
        raise ValueError(f"{field}: expected str, got {type(raw).__name__}")
    return EventType(raw)  # an open enum: "" and unlisted types are kept


def _decode_error(raw: Any, field: str) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):  # what Go writes for an error value
        return str(raw.get("message", "")) or "error"
    raise ValueError(f"{field}: expected str, got {type(raw).__name__}")


@dataclass(slots=True)
class Event(GoStruct):
    """A session event. ``timestamp`` is timezone-aware UTC by default.

    ``data`` is None or the payload of ``type`` (``Event(type=EventType.DTMF,
    data=Dtmf(digit="5"))``); :meth:`data_as` returns it typed.
    """

    __go_name__ = "Event"

    type: EventType = go_field("type", encode=str, decode=_decode_event_type)
    timestamp: datetime = go_field(
        "timestamp",
        encode=format_time,
        decode=lambda raw, field: parse_time(raw, field=field),
        default_factory=lambda: datetime.now(UTC),
    )
    data: EventData | None = go_field(
        "data",
        omitempty=True,
        encode=encode_event_data,
        decode=lambda raw, _field: RawData(raw),
        default=None,
    )
    error: str | None = go_field("error", omitempty=True, decode=_decode_error, default=None)

    def __post_init__(self) -> None:
        if not isinstance(self.type, EventType):
            self.type = EventType(self.type)
        if parsing():
            if isinstance(self.data, RawData):
                self.data = parse_event_data(self.type, self.data.value)
            return
        expected = PAYLOAD_TYPES.get(self.type)
        if self.data is None or isinstance(self.data, RawData):
            return
        if expected is None or not isinstance(self.data, expected):
            wanted = expected.__name__ if expected is not None else "no data (or RawData)"
            raise ValueError(
                f"Event.data: a {self.type.value!r} event carries {wanted}, "
                f"got {type(self.data).__name__}"
            )

    def data_as(self, kind: builtins.type[_P]) -> _P:
        """``data`` as ``kind``; TypeError when it holds something else (or nothing)."""
        data = self.data
        if not isinstance(data, kind):
            raise TypeError(
                f"Event.data of a {self.type.value!r} event: expected {kind.__name__}, "
                f"got {builtins.type(data).__name__}"
            )
        return data
