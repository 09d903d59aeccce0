"""Call control values and protocol: one API on every phone session (SIP and each carrier stream).

Every phone :class:`~omnivoice_rtc.calls.call_session.CallSession` (``SIPSession``,
``PstnSession``) implements :class:`CallControl`; so does the room-side client the agent's
tools and the operator CLI use (:class:`~omnivoice_rtc.calls.control_client.RoomCallControl`).
The actions:

===========  ======================================================================
action       what
===========  ======================================================================
``transfer`` cold transfer to a number (E.164) or a SIP URI; the agent says a line
             first (:data:`DEFAULT_TRANSFER_LINE`, or ``say=``); the call's end reason
             becomes ``transferred``
``hold``     the caller hears hold audio; the agent stops listening and speaking
``resume``   back from hold
``dtmf``     send digits to the line (SIP: RFC 4733 events; carriers: in-band tones)
``hangup``   end the call; ``reason`` is recorded as the session's end reason
===========  ======================================================================

``capabilities`` says which actions the call's route supports; an unsupported action
raises :class:`~omnivoice_rtc._errors.UnsupportedActionError` naming the route and the
reason (docs/calls.md has the table).

Other engineers add actions here (warm transfer, answering-machine detection,
recording): add a :class:`CallAction` member and a method on :class:`CallControl`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal, Protocol, runtime_checkable

from omnivoice_rtc._errors import UnsupportedActionError

__all__ = [
    "CARRIER_WARM_TRANSFER_REASON",
    "DEFAULT_HANGUP_REASON",
    "DEFAULT_TRANSFER_LINE",
    "END_REASON_ATTRIBUTE",
    "MAX_DIGITS",
    "SIP_ROUTE",
    "TRANSFERRED",
    "CallAction",
    "CallControl",
    "Capabilities",
    "TransferTarget",
    "check_digits",
    "check_reason",
    "parse_transfer_target",
]


class CallAction(StrEnum):
    """The call-control actions (their wire and CLI names)."""

    TRANSFER = "transfer"
    HOLD = "hold"
    RESUME = "resume"
    DTMF = "dtmf"
    HANGUP = "hangup"
    WARM_TRANSFER = "warm_transfer"


CARRIER_WARM_TRANSFER_REASON: Final = (
    "the carrier bridge (shim) plays only the agent's track to the caller, so a human "
    "dialled into the room would not be heard; and a carrier-dialled human gets a room "
    "of its own (the shim's make_call). Use a SIP trunk for calls that need warm transfer"
)
"""Why carrier media-stream routes do not support ``warm_transfer``."""
SIP_ROUTE: Final = "sip"
"""The route name of SIP calls (``Capabilities.route``, ``CallContext.route``)."""
DEFAULT_TRANSFER_LINE: Final = "Please hold while I transfer your call."
"""What the agent says before a cold transfer when the caller of ``transfer`` gives none."""
DEFAULT_HANGUP_REASON: Final = "agent_hangup"
TRANSFERRED: Final = "transferred"
"""The end reason of a call that was transferred away."""
END_REASON_ATTRIBUTE: Final = "omnivoice.end_reason"
"""Participant attribute set on a SIP caller before it is removed or transferred, so
whoever observes the call (``SIPSession``) records why it ended."""
MAX_DIGITS: Final = 64
"""Most DTMF digits one ``send_dtmf`` call sends."""
_DIGITS: Final = re.compile(r"[0-9*#A-Da-d]+")
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_SIP_URI: Final = re.compile(r"sips?:[^\s<>\"]+@[^\s<>\"]+|sips?:[^\s<>\"@]+")
_REASON: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """Where a cold transfer goes: ``kind`` ``number`` (E.164, ``+`` and digits) or ``sip``
    (a ``sip:``/``sips:`` URI)."""

    kind: Literal["number", "sip"]
    value: str

    @property
    def sip_uri(self) -> str:
        """The target as a SIP ``Refer-To`` URI (``tel:+1555…`` for a number)."""
        return self.value if self.kind == "sip" else f"tel:{self.value}"


def parse_transfer_target(target: str) -> TransferTarget:
    """A transfer destination from text: ``+15550100``, ``tel:+15550100`` or
    ``sip:alice@example.com``; ValueError otherwise."""
    text = target.strip()
    if text.lower().startswith("tel:"):
        text = text[4:]
    if _E164.fullmatch(text):
        return TransferTarget("number", text)
    if _SIP_URI.fullmatch(text) and len(text) <= 256:
        return TransferTarget("sip", text)
    raise ValueError(
        "transfer target: must be an E.164 number (+15550100) or a SIP URI (sip:user@host)"
    )


def check_digits(digits: str) -> str:
    """``digits`` (0-9, ``*``, ``#``, A-D; at most :data:`MAX_DIGITS`) or ValueError."""
    if not digits or len(digits) > MAX_DIGITS or not _DIGITS.fullmatch(digits):
        raise ValueError(f"dtmf: 1 to {MAX_DIGITS} of 0-9 * # A-D")
    return digits.upper()


def check_reason(reason: str) -> str:
    """A hang-up reason (1-64 of letters, digits and ``_ . : -``) or ValueError."""
    if not _REASON.fullmatch(reason):
        raise ValueError("hangup reason: 1 to 64 of letters, digits and _ . : -")
    return reason


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Which actions a call's route supports. ``unsupported`` maps each action it cannot
    do to the reason (shown in the error and in docs/calls.md)."""

    route: str
    unsupported: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, route: str, unsupported: Mapping[str, str] | None = None) -> Capabilities:
        """Every :class:`CallAction` except ``unsupported`` (action -> reason)."""
        return cls(route, MappingProxyType(dict(unsupported or {})))

    @property
    def supported(self) -> frozenset[str]:
        return frozenset(a.value for a in CallAction if a.value not in self.unsupported)

    def supports(self, action: str) -> bool:
        return action in self.supported

    def require(self, action: str) -> None:
        """Raise UnsupportedActionError (with the reason) unless ``action`` is supported."""
        if action in self.unsupported:
            raise UnsupportedActionError(
                f"{self.route}: {action} is not supported: {self.unsupported[action]}",
                action=action,
                route=self.route,
            )
        if action not in self.supported:
            raise UnsupportedActionError(
                f"{self.route}: unknown call action {action!r}", action=action, route=self.route
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "supported": sorted(self.supported),
            "unsupported": dict(self.unsupported),
        }


@runtime_checkable
class CallControl(Protocol):
    """The call-control surface of a phone call (see the module docstring)."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def transfer(self, to: str, *, say: str | None = None) -> None:
        """Cold-transfer the call to ``to`` (E.164 or SIP URI) after the agent says ``say``
        (None: :data:`DEFAULT_TRANSFER_LINE`; "": nothing). The session ends with reason
        ``transferred``."""

    async def warm_transfer(self, to: str, summary: str) -> bool:
        """Have the agent dial ``to`` (E.164 or SIP URI), brief them with ``summary`` while
        the caller holds, then connect the caller and leave: True connected, False not
        answered (the agent is back with the caller). SIP calls only."""

    async def hold(self) -> None:
        """Put the caller on hold (hold audio; the agent stops listening and speaking)."""

    async def resume(self) -> None:
        """Take the caller off hold."""

    async def send_dtmf(self, digits: str) -> None:
        """Send ``digits`` (0-9 * # A-D) to the line."""

    async def hangup(self, reason: str = DEFAULT_HANGUP_REASON) -> None:
        """End the call; ``reason`` becomes the session's end reason."""
