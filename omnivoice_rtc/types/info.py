"""Call, participant and room descriptions.

The Go structs carry no JSON tags, so encoding/json uses the Go field names as keys
(``CallID``, ``StartTime``, …); we keep exactly those keys for interop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from omnivoice_rtc._gojson import format_time, parse_time
from omnivoice_rtc.types._gostruct import GoStruct, go_field, parsing

__all__ = ["CallInfo", "ParticipantInfo", "RoomInfo"]


def _time(raw: Any, name: str) -> datetime:
    return parse_time(raw, field=name)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class CallInfo(GoStruct):
    """A phone call as seen by a call handler. ``direction`` is "inbound" or "outbound"
    (a Python caller must pass one of them; JSON keeps what Go wrote, "" included).

    ``carrier`` and ``attributes`` are Python additions (not in Go's JSON): the
    carrier name and any carrier-specific fields (e.g. Twilio AccountSid).
    """

    __go_name__ = "CallInfo"

    call_id: str = go_field("CallID", kind=str, default="")
    from_: str = go_field("From", kind=str, default="")
    to: str = go_field("To", kind=str, default="")
    direction: str = go_field("Direction", kind=str, default="inbound")
    start_time: datetime = go_field(
        "StartTime", encode=format_time, decode=_time, default_factory=_now
    )
    carrier: str = field(default="", kw_only=True)
    attributes: dict[str, str] = field(default_factory=dict, kw_only=True)

    def __post_init__(self) -> None:
        if parsing():
            return
        if self.direction not in ("inbound", "outbound"):
            raise ValueError(
                f"CallInfo.direction: must be 'inbound' or 'outbound', got {self.direction!r}"
            )


@dataclass(slots=True)
class ParticipantInfo(GoStruct):
    """A remote participant in a room. ``metadata`` is the participant's JSON metadata."""

    __go_name__ = "ParticipantInfo"

    identity: str = go_field("Identity", kind=str, default="")
    display_name: str = go_field("DisplayName", kind=str, default="")
    room_name: str = go_field("RoomName", kind=str, default="")
    metadata: str = go_field("Metadata", kind=str, default="")
    joined_at: datetime = go_field(
        "JoinedAt", encode=format_time, decode=_time, default_factory=_now
    )
    attributes: dict[str, str] = field(default_factory=dict, kw_only=True)
    kind: str = field(default="standard", kw_only=True)


@dataclass(slots=True)
class RoomInfo(GoStruct):
    """A LiveKit room."""

    __go_name__ = "RoomInfo"

    name: str = go_field("Name", kind=str, default="")
    participant_count: int = go_field("ParticipantCount", kind=int, default=0)
    created_at: datetime = go_field(
        "CreatedAt", encode=format_time, decode=_time, default_factory=_now
    )
    metadata: str = go_field("Metadata", kind=str, default="")
