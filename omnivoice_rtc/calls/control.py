"""Call control: the one API on every phone session (SIP and each carrier media stream).

The values and the :class:`CallControl` protocol live in
:mod:`omnivoice_rtc.types.call_control` (no I/O, so the carrier modules can use them);
this module is their public home next to the sessions. Read that module's docstring for
the actions, :class:`Capabilities` and the errors; docs/calls.md for the table per route.
"""

from __future__ import annotations

from omnivoice_rtc.types.call_control import (
    DEFAULT_HANGUP_REASON,
    DEFAULT_TRANSFER_LINE,
    END_REASON_ATTRIBUTE,
    MAX_DIGITS,
    SIP_ROUTE,
    TRANSFERRED,
    CallAction,
    CallControl,
    Capabilities,
    TransferTarget,
    check_digits,
    check_reason,
    parse_transfer_target,
)

__all__ = [
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
