"""How much agent audio the carrier should hold ahead of real time when a reply starts: the
shim's playout cushion, adapted to how late the agent's audio reaches this process.

The carrier plays what it is sent at real time and buffers the rest (Twilio, Telnyx,
Vonage, Plivo and Exotel alike: every carrier stream goes through the same
:class:`~omnivoice_rtc.shim.agent_playout.AgentPlayout`). Between replies the shim forwards the agent's silence only while
the carrier holds no more than the cushion
(:class:`~omnivoice_rtc.shim.agent_playout.AgentPlayout` sheds the rest), so a reply starts
behind that much silence: the cushion is paid once per reply, in mouth-to-ear, and it is
what the reply can lose to a late frame before the caller hears a gap.

A fixed 60 ms cushion cost ~43 ms of every Twilio turn (docs/benchmarks.md, "Turn latency
per route"). :class:`PlayoutCushion` sizes it the way a receiver's jitter buffer sizes its
delay: from the agent audio's own arrivals. Each chunk that comes later than the audio
before it would have finished (its inter-arrival time minus that audio's duration) raises
a peak; the peak decays by :data:`CUSHION_DECAY_MS_PER_S`; the cushion is the peak plus
:data:`CUSHION_MARGIN_MS`, within [:data:`MIN_CUSHION_MS`, :data:`MAX_CUSHION_MS`]. On a
healthy shim (frames within a few ms of their time) a reply waits behind ~10 ms of
silence; after a stall of the shim's event loop or of the room's audio, the cushion grows
to cover it (at most 60 ms, the former fixed bound) and shrinks again over seconds.

Pure bookkeeping: time comes from ``clock`` (monotonic s); no I/O.
"""

from __future__ import annotations

from typing import Final

from omnivoice_rtc._clock import MONOTONIC, Clock

__all__ = [
    "CUSHION_DECAY_MS_PER_S",
    "CUSHION_MARGIN_MS",
    "MAX_CUSHION_MS",
    "MIN_CUSHION_MS",
    "PlayoutCushion",
]

MIN_CUSHION_MS: Final = 10.0
"""Smallest cushion (ms): half a 20 ms carrier frame, against the few ms of scheduling jitter
that a healthy event loop still has."""
MAX_CUSHION_MS: Final = 60.0
"""Largest cushion (ms): the former fixed bound; a longer stall is not worth a longer wait
before every reply (its audio is caught up in the agent's next pause instead)."""
CUSHION_MARGIN_MS: Final = 5.0
"""Added to the peak lateness (ms)."""
CUSHION_DECAY_MS_PER_S: Final = 5.0
"""How fast the peak lateness is forgotten (ms per s): a 60 ms stall raises the cushion to
its maximum and it is back at the minimum ~10 s later."""
_GAP_RESET_S: Final = 1.0
"""A pause in the agent's audio this long (s) is not lateness (the stream restarted: a
clear, a fresh agent); the next chunk starts a new measurement."""


class PlayoutCushion:
    """The adaptive playout cushion of one call (see the module docstring).

    ``fixed_ms``: a fixed cushion instead (``MediaPolicy.playout_cushion_ms``); None adapts.
    """

    __slots__ = ("_clock", "_fixed_ms", "_last_at", "_last_ms", "_peak_at", "_peak_ms")

    def __init__(self, *, fixed_ms: float | None = None, clock: Clock = MONOTONIC) -> None:
        if fixed_ms is not None and fixed_ms < 0:
            raise ValueError(f"PlayoutCushion.fixed_ms: must be >= 0 ms, got {fixed_ms!r}")
        self._fixed_ms = fixed_ms
        self._clock = clock
        self._last_at: float | None = None
        self._last_ms = 0.0
        self._peak_ms = 0.0
        self._peak_at = clock()

    def on_arrival(self, duration_ms: float) -> None:
        """A chunk of agent audio lasting ``duration_ms`` (ms) arrived now."""
        now = self._clock()
        last_at, last_ms = self._last_at, self._last_ms
        self._last_at, self._last_ms = now, duration_ms
        if last_at is None:
            return
        gap_s = now - last_at
        if gap_s >= _GAP_RESET_S:
            return
        late_ms = gap_s * 1000.0 - last_ms
        if late_ms > self._decayed_peak_ms():
            self._peak_ms = late_ms

    def target_ms(self) -> float:
        """The cushion now (ms): how far ahead of real time the carrier may be kept while
        the agent is silent."""
        if self._fixed_ms is not None:
            return self._fixed_ms
        wanted = self._decayed_peak_ms() + CUSHION_MARGIN_MS
        return min(MAX_CUSHION_MS, max(MIN_CUSHION_MS, wanted))

    def _decayed_peak_ms(self) -> float:
        now = self._clock()
        self._peak_ms = max(0.0, self._peak_ms - (now - self._peak_at) * CUSHION_DECAY_MS_PER_S)
        self._peak_at = now
        return self._peak_ms
