"""Conversation value types: Turn and ToolCall (Go JSON keys)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from omnivoice_rtc._gojson import format_time, parse_time
from omnivoice_rtc.types._gostruct import GoStruct, go_field, parsing

__all__ = ["Role", "ToolCall", "Turn"]

Role = Literal["user", "agent"]


def _decode_tool_calls(raw: Any, field: str) -> list[ToolCall]:
    if not isinstance(raw, list):
        raise ValueError(f"{field}: expected list, got {type(raw).__name__}")
    return [ToolCall.from_dict(item) for item in raw]


@dataclass(slots=True)
class ToolCall(GoStruct):
    """One tool invocation during a conversation. ``duration_ms`` in milliseconds.

    ``arguments`` is None when unset (Go's nil map, written as ``null``). The calls a
    session records are built by :func:`omnivoice_rtc.conversation.build_tool_call`,
    which documents how the model's argument string becomes this object.
    """

    __go_name__ = "ToolCall"

    name: str = go_field("name", kind=str, default="")
    arguments: dict[str, Any] | None = go_field("arguments", kind=dict, default=None)
    result: str = go_field("result", kind=str, default="")
    error: str = go_field("error", kind=str, omitempty=True, default="")
    duration_ms: int = go_field("duration_ms", kind=int, default=0)


@dataclass(slots=True)
class Turn(GoStruct):
    """One conversation turn. ``role`` is "user" or "agent"; ``duration_ms`` in ms.

    A Python caller must pass one of those roles; JSON keeps whatever role Go wrote
    (Go's zero value "" included)."""

    __go_name__ = "Turn"

    role: str = go_field("role", kind=str, default="user")
    text: str = go_field("text", kind=str, default="")
    timestamp: datetime = go_field(
        "timestamp",
        encode=format_time,
        decode=lambda raw, field: parse_time(raw, field=field),
        default_factory=lambda: datetime.now(UTC),
    )
    duration_ms: int = go_field("duration_ms", kind=int, default=0)
    tool_calls: list[ToolCall] = go_field(
        "tool_calls",
        omitempty=True,
        encode=lambda calls: [c.to_dict() for c in calls],
        decode=_decode_tool_calls,
        default_factory=list,
    )

    def __post_init__(self) -> None:
        if parsing():
            return
        if self.role not in ("user", "agent"):
            raise ValueError(f"Turn.role: must be 'user' or 'agent', got {self.role!r}")
        if self.duration_ms < 0:
            raise ValueError("Turn.duration_ms: must be >= 0")
