"""Bad-input policy for one media WebSocket, and the per-call counters it feeds.

Every decision here is local to one call: a hostile stream can only exhaust its own
budget. Close codes (RFC 6455): 1007 invalid payload data, 1008 policy violation,
1009 message too big (aiohttp sends it itself when a frame exceeds ``max_frame_bytes``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

from omnivoice_rtc._clock import MONOTONIC, Clock

__all__ = [
    "CLOSE_INVALID_DATA",
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_TOO_BIG",
    "CallCounters",
    "MediaPolicy",
    "RealTimeBudget",
]

CLOSE_NORMAL: Final = 1000
CLOSE_INVALID_DATA: Final = 1007
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaPolicy:
    """Limits applied to every media WebSocket."""

    max_frame_bytes: int = 64 * 1024
    """Largest WebSocket message accepted (bytes); larger closes with 1009."""
    max_invalid_frames: int = 50
    """Unparseable frames (bad JSON/base64/fields) tolerated before closing with 1007."""
    max_frames_before_start: int = 20
    """Frames accepted before ``start``/``connected`` carries a token (then 1008)."""
    start_timeout_s: float = 10.0
    """Seconds to wait for the frames that carry the stream token (then 1008)."""
    burst_ms: int = 1000
    """Inbound audio allowed ahead of real time (ms); beyond it frames are dropped. A
    network stall of up to this long is caught up without losing the caller's words."""
    inbound_queue_ms: int = 1000
    """Caller audio waiting for the room publisher (ms); beyond it the oldest is dropped
    (counted as ``dropped_backlog``). Empty in steady state: direct capture drains it in
    milliseconds once livekit's capture callbacks flow again, so it costs latency only
    while they stall (seen up to ~1 s on a loaded 2-core box, for all calls at once)."""
    outbound_queue_ms: int = 2000
    """Agent audio held for a slow socket before the oldest is dropped (ms)."""
    mark_every_ms: int = 500
    """Send a playback marker after this much outbound audio (ms)."""
    late_gap_ms: int = 60
    """An inbound frame arriving this long after the previous one counts as late (ms)."""
    playout_cushion_ms: int | None = None
    """Agent audio the carrier may hold ahead of real time while the agent is silent (ms):
    what a reply waits behind and may lose to a late frame. None adapts it to how late the
    agent's audio arrives, 10-60 ms (:mod:`omnivoice_rtc.shim.playout_cushion`)."""

    def __post_init__(self) -> None:
        if self.playout_cushion_ms is not None and not 0 <= self.playout_cushion_ms <= 1000:
            raise ValueError(
                "MediaPolicy.playout_cushion_ms: must be None or 0-1000 ms, "
                f"got {self.playout_cushion_ms!r}"
            )


@dataclass(slots=True)
class CallCounters:
    """Per-call counters (frames and bytes are WebSocket media payloads)."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    frames_late: int = 0
    dropped_invalid: int = 0
    dropped_before_start: int = 0
    dropped_wrong_size: int = 0
    dropped_before_room: int = 0
    """Caller frames that arrived while the room was being joined (no listener yet)."""
    dropped_too_fast: int = 0
    dropped_backlog: int = 0
    """Caller frames dropped because the room publisher fell ``inbound_queue_ms`` behind."""
    dropped_outbound: int = 0
    silence_shed: int = 0
    """Agent frames of silence not sent while the carrier's playback buffer was ahead by
    more than the playout cushion (:mod:`omnivoice_rtc.shim.playout_cushion`)."""
    dtmf_in: int = 0
    dtmf_out: int = 0
    """Agent digits played to the caller as in-band tones."""
    marks_sent: int = 0
    marks_acked: int = 0
    flushes: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_EPSILON_MS: Final = 1e-6
"""Float rounding in clock differences (s -> ms) never turns an on-time frame away."""


class RealTimeBudget:
    """Token bucket of audio time: refills at real time, holds at most ``burst_ms``.

    ``take(ms)`` returns False (drop the frame) when the stream is ahead of real time
    by more than the burst. Time comes from ``clock`` (monotonic seconds); the bucket is
    full when it is made.
    """

    __slots__ = ("_burst", "_clock", "_credit", "_last")

    def __init__(self, *, burst_ms: int, clock: Clock = MONOTONIC) -> None:
        if burst_ms <= 0:
            raise ValueError(f"RealTimeBudget.burst_ms: must be > 0 ms, got {burst_ms!r}")
        self._burst = float(burst_ms)
        self._clock = clock
        self._credit = float(burst_ms)
        self._last = clock()

    def take(self, ms: float) -> bool:
        """Spend ``ms`` of audio time (ms); False (and nothing spent) when not enough is left."""
        now = self._clock()
        self._credit = min(self._burst, self._credit + (now - self._last) * 1000.0)
        self._last = now
        if self._credit + _EPSILON_MS < ms:
            return False
        self._credit -= ms
        return True
