"""Who may steer a session over ``omnivoice.control``, and how much.

A command is accepted only

* from the target session's own participant (a browser steering its own conversation,
  the shim's caller participant sending for its call), or
* from a server-side identity that no browser token can be: a packet with no sender
  participant (a server SDK, or a *hidden* participant such as the SIP observer: hidden
  is a grant only server-minted observer tokens carry), or a participant of kind ``sip``
  or ``agent`` (livekit-sip, the shim's caller, the agent side). ``/api/token`` mints kind
  ``standard`` tokens without attributes and without the right to change them, so none of
  these can be claimed by a page.

``speak`` counts as a ``say`` for the caps below. A command that names no participant is
for the sender's own session; only a server-side
sender may have it go to the room's one session. ``say`` is capped in length
(``OMNIVOICE_CONTROL_SAY_MAX_CHARS``) and rate (``OMNIVOICE_CONTROL_SAY_PER_MIN`` per
target session). ``warm_transfer`` dials out, so it is accepted from a server-side sender
only (the operator CLI, a ``SIPSession``), its summary capped like ``say``. Every refusal
names its reason (the job logs it).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Final, Protocol

from livekit import rtc

from omnivoice_rtc.livekit.data_topics import ControlCommand
from omnivoice_rtc.settings.limits import ControlLimits

__all__ = ["ControlPolicy", "ControlRefused", "is_server_side"]

_SERVER_KINDS: Final = (
    rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
    rtc.ParticipantKind.PARTICIPANT_KIND_AGENT,
)
_WINDOW_S: Final = 60.0


class _Permissions(Protocol):
    @property
    def hidden(self) -> bool: ...


class _Sender(Protocol):
    """What a command's sender shows (an ``rtc.RemoteParticipant``)."""

    @property
    def identity(self) -> str: ...
    @property
    def kind(self) -> rtc.ParticipantKind.ValueType: ...
    @property
    def permissions(self) -> _Permissions: ...


@dataclass(frozen=True, slots=True)
class ControlRefused:
    """A refused command: ``reason`` says why (logged, never sent back)."""

    reason: str


def is_server_side(sender: _Sender | None) -> bool:
    """True for a sender no browser token can be (see the module docstring)."""
    if sender is None:
        return True
    return sender.kind in _SERVER_KINDS or bool(sender.permissions.hidden)


class ControlPolicy:
    """Authorises control commands for one room's sessions (see the module docstring).
    ``clock``: monotonic seconds (injectable for tests)."""

    __slots__ = ("_clock", "_limits", "_says")

    def __init__(
        self, *, limits: ControlLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = limits or ControlLimits()
        self._clock = clock
        self._says: dict[str, deque[float]] = {}

    def authorise(
        self, sender: _Sender | None, command: ControlCommand, sessions: Collection[str]
    ) -> str | ControlRefused:
        """The identity of the session ``command`` is for, or why it is refused.
        ``sessions`` are the identities of the room's live sessions."""
        server_side = is_server_side(sender)
        own = sender.identity if sender is not None else ""
        target = command.participant or own
        if not server_side and target != own:
            return ControlRefused("sender may only steer its own session")
        if target not in sessions:
            if server_side and not command.participant and len(sessions) == 1:
                target = next(iter(sessions))
            else:
                return ControlRefused("no session for the command")
        if command.type == "warm_transfer":  # dials out: the server side only (toll fraud)
            if not server_side:
                return ControlRefused("warm_transfer only from a server-side identity")
            if len(command.text) > self._limits.say_max_chars:
                return ControlRefused(
                    f"warm_transfer summary longer than {self._limits.say_max_chars} characters"
                )
        if command.type in ("say", "speak"):
            refused = self._check_say(target, command.text)
            if refused is not None:
                return refused
        return target

    def _check_say(self, target: str, text: str) -> ControlRefused | None:
        limits = self._limits
        if len(text) > limits.say_max_chars:
            return ControlRefused(f"say text longer than {limits.say_max_chars} characters")
        now = self._clock()
        times = self._says.setdefault(target, deque())
        while times and times[0] <= now - _WINDOW_S:
            times.popleft()
        if len(times) >= limits.say_per_min:
            return ControlRefused(f"more than {limits.say_per_min} say commands per minute")
        times.append(now)
        return None

    def forget(self, identity: str) -> None:
        """The session of ``identity`` ended: drop its counts."""
        self._says.pop(identity, None)
