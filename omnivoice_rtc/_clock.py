"""Where time comes from: a monotonic clock in seconds, injected wherever a decision needs it.

Code that decides by elapsed time (the shim's real-time budget, late frames, the
stale-audio window after a flush, playback marks) takes a :class:`Clock` instead of calling
:func:`time.monotonic` itself, so a test can drive it with a :class:`VirtualClock` and
never sleep or assert a timing::

    clock = VirtualClock()
    budget = RealTimeBudget(burst_ms=100, clock=clock)
    clock.advance(0.020)  # 20 ms later, exactly

:data:`MONOTONIC` is the real clock (:func:`time.monotonic`).
"""

from __future__ import annotations

import time
from typing import Final, Protocol

__all__ = ["MONOTONIC", "Clock", "VirtualClock"]


class Clock(Protocol):
    """A monotonic clock: calling it gives the current time in seconds (float).

    Only differences between two readings mean anything; the origin is arbitrary.
    """

    def __call__(self) -> float: ...


MONOTONIC: Final[Clock] = time.monotonic
"""The real clock (:func:`time.monotonic`, seconds)."""


class VirtualClock:
    """A :class:`Clock` that moves only when told to (tests).

    ``start_s`` is the first reading (s); :meth:`advance` moves it forward by hand. Time is
    kept in whole nanoseconds, so a thousand advances of 0.020 s read exactly 20 s later
    (no drift from adding floats).
    """

    __slots__ = ("_ns",)

    def __init__(self, start_s: float = 1000.0) -> None:
        self._ns = round(start_s * 1e9)

    def __call__(self) -> float:
        return self._ns / 1e9

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (>= 0; a monotonic clock never goes back)."""
        if seconds < 0:
            raise ValueError(f"VirtualClock.advance: seconds must be >= 0, got {seconds!r}")
        self._ns += round(seconds * 1e9)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self():.9f})"
