"""Playback marks: when to ask the carrier to echo a marker, and its echoes (no I/O).

After every ``every_ms`` of agent audio sent, the pump sends a marker (Twilio/Telnyx
``mark``, Vonage ``notify``, Plivo ``checkpoint``); the carrier echoes it once the audio
before it has played (or was cleared). :class:`PlaybackMarks` names the markers
(``ov-1``, ``ov-2``, …), counts ``marks_sent`` / ``marks_acked``, and keeps at most
``max_outstanding`` unanswered markers (a carrier that never echoes cannot grow it).
"""

from __future__ import annotations

from typing import Final

from omnivoice_rtc._clock import MONOTONIC, Clock
from omnivoice_rtc.shim.policy import CallCounters

__all__ = ["MARK_PREFIX", "MAX_OUTSTANDING_MARKS", "PlaybackMarks"]

MARK_PREFIX: Final = "ov-"
MAX_OUTSTANDING_MARKS: Final = 64
"""Unanswered markers remembered; the oldest is forgotten beyond this."""


class PlaybackMarks:
    """Marker decisions for one call (see the module docstring). ``every_ms`` in ms."""

    __slots__ = ("_clock", "_counters", "_every_ms", "_max", "_outstanding", "_seq", "_since_ms")

    def __init__(
        self,
        *,
        every_ms: int,
        counters: CallCounters,
        clock: Clock = MONOTONIC,
        max_outstanding: int = MAX_OUTSTANDING_MARKS,
    ) -> None:
        if every_ms <= 0:
            raise ValueError(f"PlaybackMarks.every_ms: must be > 0 ms, got {every_ms!r}")
        if max_outstanding < 1:
            raise ValueError(
                f"PlaybackMarks.max_outstanding: must be >= 1, got {max_outstanding!r}"
            )
        self._every_ms = every_ms
        self._counters = counters
        self._clock = clock
        self._max = max_outstanding
        self._outstanding: dict[str, float] = {}  # marker name -> clock reading when sent (s)
        self._seq = 0
        self._since_ms = 0.0

    @property
    def outstanding(self) -> tuple[str, ...]:
        """Markers sent and not echoed yet, oldest first."""
        return tuple(self._outstanding)

    def on_audio_sent(self, ms: float) -> str | None:
        """``ms`` more agent audio went to the carrier; the name of a marker to send now,
        or None. The marker counts as sent (``marks_sent``) when it is returned."""
        self._since_ms += ms
        if self._since_ms < self._every_ms:
            return None
        self._since_ms = 0.0
        self._seq += 1
        name = f"{MARK_PREFIX}{self._seq}"
        self._outstanding[name] = self._clock()
        if len(self._outstanding) > self._max:
            del self._outstanding[next(iter(self._outstanding))]
        self._counters.marks_sent += 1
        return name

    def on_echo(self, name: str) -> float | None:
        """The carrier echoed ``name``: seconds since it was sent (``marks_acked`` counted),
        or None for a marker that is not ours or was forgotten."""
        sent_at = self._outstanding.pop(name, None)
        if sent_at is None:
            return None
        self._counters.marks_acked += 1
        return self._clock() - sent_at

    def reset(self) -> None:
        """After a flush: the next marker comes a full ``every_ms`` of new audio later."""
        self._since_ms = 0.0
