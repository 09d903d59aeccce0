"""Answering-machine detection on outbound calls (docs/calls.md).

On a call we placed (SIP, or a carrier's ``make_call``), with ``OMNIVOICE_AMD=1`` the
agent listens to whoever answered before it greets: a person gets the greeting; a
machine gets the voicemail message after its beep (or a hang-up). Times are in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Self

from omnivoice_rtc.settings._env import load, var

__all__ = ["DEFAULT_VOICEMAIL_MESSAGE", "AnsweringMachineSettings"]

DEFAULT_VOICEMAIL_MESSAGE: Final = (
    "Hello, this is an automated call. Please call us back when you can. Goodbye."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnsweringMachineSettings:
    """Whether and how the agent screens outbound calls for answering machines."""

    enabled: bool = var(
        "OMNIVOICE_AMD",
        False,
        doc="detect answering machines on outbound calls; the outbound greeting waits for "
        "the verdict",
        kind=bool,
    )
    on_machine: str = var(
        "OMNIVOICE_AMD_ON_MACHINE",
        "voicemail",
        doc="what the agent does when a machine answered: voicemail (leave "
        "OMNIVOICE_AMD_VOICEMAIL_MESSAGE after the beep, then hang up) or hangup",
        choices=("voicemail", "hangup"),
    )
    voicemail_message: str = var(
        "OMNIVOICE_AMD_VOICEMAIL_MESSAGE",
        DEFAULT_VOICEMAIL_MESSAGE,
        doc="the message left on a voicemail (empty: hang up instead)",
    )
    timeout_s: float = var(
        "OMNIVOICE_AMD_TIMEOUT_S",
        20.0,
        doc="longest wait for a verdict once the call is answered (s); then the agent "
        "greets as for a person",
        kind=float,
        minimum=2,
        maximum=120,
    )
    beep_timeout_s: float = var(
        "OMNIVOICE_AMD_BEEP_TIMEOUT_S",
        8.0,
        doc="after a voicemail verdict, longest wait for the beep (s); then the message is "
        "left anyway",
        kind=float,
        minimum=0,
        maximum=60,
    )

    @property
    def leaves_message(self) -> bool:
        """True when a machine gets the voicemail message (False: a hang-up)."""
        return self.on_machine == "voicemail" and bool(self.voicemail_message.strip())

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
