"""Check the order of inbound messages of one stream (pure, no I/O).

Each carrier has a documented order: Twilio/Telnyx ``connected`` (optional here) →
``start`` → media/dtmf/mark … → ``stop``; Plivo ``start`` first; Vonage
``websocket:connected`` first. :class:`StreamSequencer` raises ``ValueError`` with an exact
message for media before start, a second start, or anything after stop, so the shim can
close the socket with a precise code.
"""

from __future__ import annotations

from typing import Final

from omnivoice_rtc.media_streams.messages import Carrier, Connected, InboundMessage, Start, Stop

__all__ = ["StreamSequencer"]

_OPENING: Final[dict[str, type]] = {
    "twilio": Start,
    "telnyx": Start,
    "plivo": Start,
    "vonage": Connected,
}


class StreamSequencer:
    """Tracks one stream's phase: ``waiting`` → ``started`` → ``stopped``."""

    __slots__ = ("_carrier", "_phase")

    def __init__(self, *, carrier: Carrier) -> None:
        if carrier not in _OPENING:
            raise ValueError(f"unknown carrier {carrier!r}")
        self._carrier = carrier
        self._phase = "waiting"

    @property
    def phase(self) -> str:
        return self._phase

    @property
    def started(self) -> bool:
        return self._phase == "started"

    def check(self, message: InboundMessage) -> None:
        """Accept ``message`` in the current phase or raise ValueError."""
        opening = _OPENING[self._carrier]
        name = message.type
        if self._phase == "stopped":
            raise ValueError(f"{self._carrier}: {name!r} after stop")
        if self._phase == "waiting":
            if isinstance(message, opening):
                self._phase = "started"
                return
            if isinstance(message, Connected) and opening is Start:
                return  # Twilio/Telnyx say hello before start
            raise ValueError(f"{self._carrier}: {name!r} before {opening.__name__.lower()}")
        if isinstance(message, (opening, Connected)):
            raise ValueError(f"{self._carrier}: second {name!r}")
        if isinstance(message, Stop):
            self._phase = "stopped"
