"""Helpers that make Python values round-trip through Go's encoding/json shapes.

Go's ``time.Time`` marshals as RFC 3339 with nanoseconds and trailing zeros trimmed
(``time.RFC3339Nano``); ``time.Duration`` marshals as an integer number of
nanoseconds. Python's datetime has microsecond resolution: nanoseconds beyond the
microsecond are truncated on parse.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:\d{2})$"
)


def format_time(value: datetime) -> str:
    """Format an aware datetime as Go's ``time.RFC3339Nano`` does."""
    if value.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    offset = value.utcoffset()
    # %Y is not zero-padded for years below 1000 on glibc; Go writes 4 digits (0001-01-01…)
    base = f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S")
    frac = f"{value.microsecond:06d}".rstrip("0")
    if frac:
        base += "." + frac
    if offset is None or offset == timedelta(0):
        return base + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{base}{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


def parse_time(value: Any, *, field: str) -> datetime:
    """Parse an RFC 3339 timestamp (as Go writes it) into an aware datetime."""
    if not isinstance(value, str):
        raise ValueError(f"{field}: expected an RFC 3339 string, got {type(value).__name__}")
    m = _RFC3339.match(value)
    if m is None:
        raise ValueError(f"{field}: invalid RFC 3339 timestamp {value!r}")
    year, month, day, hour, minute, second, frac, zone = m.groups()
    micro = int((frac or "0").ljust(9, "0")[:6])
    if zone in ("Z", "z"):
        tz = UTC
    else:
        from datetime import timezone

        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )


def duration_to_ns(value: timedelta) -> int:
    """Go ``time.Duration`` JSON: integer nanoseconds."""
    return (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1_000


def duration_from_ns(value: Any, *, field: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: expected integer nanoseconds, got {type(value).__name__}")
    return timedelta(microseconds=value // 1_000)


def expect_type(
    data: dict[str, Any], key: str, kind: type | tuple[type, ...], *, owner: str
) -> Any:
    """Return ``data[key]`` after checking its JSON type; names owner.key in the error."""
    value = data[key]
    if kind is int or kind == (int,):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValueError(f"{owner}.{key}: expected {name}, got {type(value).__name__}")
    return value
