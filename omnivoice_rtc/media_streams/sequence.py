"""Check the order of inbound messages of one stream (pure, no I/O).

Each carrier has a documented order: a ``connected`` hello (optional here) → the opening
message its profile names (``start``; Vonage ``websocket:connected``) → media/dtmf/mark …
→ ``stop``. :class:`StreamSequencer` raises ``ValueError`` with an exact message for media
before the opening message, a second opening, or anything after stop, so the shim can close
the socket with a precise code.
"""

from __future__ import annotations

from omnivoice_rtc.media_streams.messages import Connected, InboundMessage, Start, Stop

__all__ = ["StreamSequencer"]


class StreamSequencer:
    """Tracks one stream's phase: ``waiting`` → ``started`` → ``stopped``.

    ``carrier`` is a registered carrier name; its opening message comes from its profile
    (:mod:`omnivoice_rtc.carriers.registry`); ValueError for an unknown carrier.
    """

    __slots__ = ("_carrier", "_opening", "_phase")

    def __init__(self, *, carrier: str) -> None:
        # reason: the registry imports this package's codecs, so it is imported on use
        from omnivoice_rtc.carriers.registry import profile_type

        self._opening: type[Start] | type[Connected] = profile_type(carrier).opening_message
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
        opening = self._opening
        name = message.type
        if self._phase == "stopped":
            raise ValueError(f"{self._carrier}: {name!r} after stop")
        if self._phase == "waiting":
            if isinstance(message, opening):
                self._phase = "started"
                return
            if isinstance(message, Connected) and opening is Start:
                return  # Twilio/Telnyx/Exotel say hello before start
            raise ValueError(f"{self._carrier}: {name!r} before {opening.__name__.lower()}")
        if isinstance(message, (opening, Connected)):
            raise ValueError(f"{self._carrier}: second {name!r}")
        if isinstance(message, Stop):
            self._phase = "stopped"
