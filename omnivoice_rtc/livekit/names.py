"""Validation of LiveKit room names and participant identities.

Both end up in JWT claims, server logs and URLs, so we accept any printable text
of 1..256 characters and reject control characters and line breaks.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_NAME_LENGTH", "validate_identity", "validate_room_name"]

MAX_NAME_LENGTH = 256
"""Longest room name or identity accepted, in characters."""

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})  # control chars, line/paragraph separators


def _validate(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{argument}: must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{argument}: must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{argument}: must be at most {MAX_NAME_LENGTH} characters, got {len(value)}"
        )
    for index, char in enumerate(value):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"{argument}: must not contain control characters "
                f"(found U+{ord(char):04X} at index {index})"
            )
    return value


def validate_room_name(room: object, *, argument: str = "room") -> str:
    """Return ``room`` if it is a valid room name, else raise ValueError naming ``argument``."""
    return _validate(room, argument)


def validate_identity(identity: object, *, argument: str = "identity") -> str:
    """Return ``identity`` if valid, else raise ValueError naming ``argument``."""
    return _validate(identity, argument)
