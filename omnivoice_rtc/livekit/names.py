"""Room names and participant identities: validation, and the names the project gives rooms.

Validation: both end up in JWT claims, server logs and URLs, so we accept any printable
text of 1..256 characters and reject control characters and line breaks.

Naming: every room the project creates for a phone call is under one of two namespaces,
and :data:`RESERVED_ROOM_PREFIXES` (which ``/api/token`` refuses to browsers) is derived
from them, so a new kind of phone room cannot be left joinable by forgetting a list:

* ``call-<carrier>-<id>``: the shim's call rooms (:func:`call_room_name`);
* ``sip-out-<12 hex>``: outbound SIP calls (``SIPGateway.make_call``,
  :func:`sip_outbound_room_name`);
* ``sip-<carrier>-_<caller>_<random>``: inbound SIP calls, named by livekit-sip from the
  ``room_prefix`` of a ``sip/<carrier>.json`` dispatch rule (:func:`sip_dispatch_room_prefix`).

``omnivoice-rtc sip apply`` refuses a dispatch rule whose rooms would fall outside the
reserved namespaces (:func:`require_reserved_room_prefix`).

Attributes: a phone caller's per-call parameters (a carrier's ``<Parameter>`` values, a
SIP trunk's mapped headers) travel as participant attributes named
``omnivoice.param.<name>`` (:data:`CALL_PARAMETER_ATTRIBUTE_PREFIX`); the agent hands them
to your agent as ``CallContext.parameters``.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Final

from omnivoice_rtc._errors import ConfigError

__all__ = [
    "CALL_PARAMETER_ATTRIBUTE_PREFIX",
    "CALL_ROOM_PREFIX",
    "MAX_NAME_LENGTH",
    "RESERVED_ROOM_PREFIXES",
    "SIP_OUTBOUND_ROOM_PREFIX",
    "SIP_ROOM_PREFIX",
    "call_participant_identity",
    "call_room_name",
    "is_reserved_room_name",
    "require_reserved_room_prefix",
    "sip_dispatch_room_prefix",
    "sip_outbound_room_name",
    "unreserved_room_reason",
    "validate_identity",
    "validate_room_name",
]

MAX_NAME_LENGTH = 256
"""Longest room name or identity accepted, in characters."""

CALL_ROOM_PREFIX: Final = "call-"
"""Namespace of the shim's call rooms (carrier media streams): ``call-<carrier>-<id>``."""
SIP_ROOM_PREFIX: Final = "sip-"
"""Namespace of SIP call rooms: outbound (``sip-out-…``) and from dispatch rules
(``sip-<carrier>-…``)."""
SIP_OUTBOUND_ROOM_PREFIX: Final = SIP_ROOM_PREFIX + "out"
"""Default prefix of outbound SIP rooms; a room is ``<prefix>-<12 hex>``."""

CALL_PARAMETER_ATTRIBUTE_PREFIX: Final = "omnivoice.param."
"""Participant attributes under this prefix are the call's parameters (the prefix removed)."""

RESERVED_ROOM_PREFIXES: Final[tuple[str, ...]] = (CALL_ROOM_PREFIX, SIP_ROOM_PREFIX)
"""Every namespace the project creates phone-call rooms under (compared case-insensitively).
A browser token is never minted for a room starting with one of these."""

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})  # control chars, line/paragraph separators
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_ID_CHARS: Final = 64


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


# ---------------------------------------------------------------------- names we give


def _sanitise(value: str) -> str:
    cleaned = _NAME_UNSAFE.sub("-", value).strip("-")[:_MAX_ID_CHARS]
    if not cleaned:
        raise ValueError(f"call id {value!r} has no usable characters")
    return cleaned


def call_room_name(carrier: str, call_id: str) -> str:
    """``call-<carrier>-<id>`` with anything outside ``[A-Za-z0-9_-]`` replaced by ``-``
    (each part at most 64 characters)."""
    return f"{CALL_ROOM_PREFIX}{_sanitise(carrier)}-{_sanitise(call_id)}"


def call_participant_identity(carrier: str, call_id: str) -> str:
    """``pstn-<carrier>-<id>``: the caller's identity in the room (derived from the call,
    never chosen by the caller, so it cannot replace someone else)."""
    return f"pstn-{_sanitise(carrier)}-{_sanitise(call_id)}"


def sip_outbound_room_name(prefix: str = SIP_OUTBOUND_ROOM_PREFIX) -> str:
    """A fresh outbound SIP room, ``<prefix>-<12 hex>`` (48 random bits).

    ``prefix`` must be reserved (:func:`require_reserved_room_prefix`).
    """
    require_reserved_room_prefix(prefix + "-", argument="outbound_room_prefix")
    return f"{prefix}-{secrets.token_hex(6)}"


def sip_dispatch_room_prefix(carrier: str) -> str:
    """``sip-<carrier>-``: the ``room_prefix`` of a carrier's SIP dispatch rule.

    livekit-sip names each inbound call's room ``<prefix>_<caller number>_<random>``.
    """
    return f"{SIP_ROOM_PREFIX}{_sanitise(carrier)}-"


def is_reserved_room_name(name: str) -> bool:
    """True when ``name`` (a room name or prefix) starts with a reserved namespace
    (case-insensitive: ``SIP-x`` is as reserved as ``sip-x``)."""
    lowered = name.lower()
    return any(lowered.startswith(prefix) for prefix in RESERVED_ROOM_PREFIXES)


def unreserved_room_reason(prefix: str) -> str | None:
    """Why rooms starting with ``prefix`` would be joinable from a browser, or None when
    ``prefix`` starts with a reserved namespace."""
    if is_reserved_room_name(prefix):
        return None
    namespaces = " or ".join(repr(p) for p in RESERVED_ROOM_PREFIXES)
    return (
        f"rooms of phone calls must start with {namespaces} so that browsers cannot join "
        f"them (e.g. 'sip-<carrier>-'), got {prefix!r}"
    )


def require_reserved_room_prefix(prefix: str, *, argument: str) -> str:
    """Return ``prefix`` if every room it starts is reserved, else raise ConfigError naming
    ``argument`` (browsers could otherwise get a token for a phone call's room)."""
    reason = unreserved_room_reason(prefix)
    if reason is not None:
        raise ConfigError(f"{argument}: {reason}")
    return prefix
