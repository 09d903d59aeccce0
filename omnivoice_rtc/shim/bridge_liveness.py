"""The time-driven parts of a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge`'s liveness.

* :class:`BridgeTiming`: the bridge's clock, sleep and liveness settings (tests drive both
  with a :class:`~omnivoice_rtc._clock.VirtualClock`);
* :func:`watch_media`: returns once the carrier has sent no audio for ``media_timeout_s``;
* :func:`announce`: plays our own audio (the apology) to the caller at real time, a little
  ahead, and returns once it has played at the carrier, so a hang-up after it cuts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from omnivoice_rtc._clock import MONOTONIC, Clock
from omnivoice_rtc.settings import CallSettings

__all__ = ["ANNOUNCE_LEAD_S", "ANNOUNCE_TAIL_S", "BridgeTiming", "announce", "watch_media"]

_ANNOUNCE_FRAME_S: Final = 0.020
"""Our own audio goes to the carrier in 20 ms pieces."""
ANNOUNCE_LEAD_S: Final = 0.2
"""How far ahead of real time our own audio is sent (s): enough for the carrier's jitter
buffer, little enough that a hang-up after it cuts nothing."""
ANNOUNCE_TAIL_S: Final = 0.3
"""Wait after the last piece should have played before returning (s)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeTiming:
    """Where a bridge's time comes from, and the call's liveness settings.

    ``clock`` gives monotonic seconds; ``sleep`` waits that many seconds (tests pass a
    sleep that follows a :class:`~omnivoice_rtc._clock.VirtualClock`)."""

    liveness: CallSettings = field(default_factory=CallSettings)
    clock: Clock = MONOTONIC
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


async def watch_media(*, last_media_at: Callable[[], float], timing: BridgeTiming) -> float:
    """Return (the idle time, s) once ``clock() - last_media_at()`` reaches
    ``media_timeout_s``; never returns when that is 0 (off). Looks every quarter of the
    timeout, at most every second."""
    timeout_s = timing.liveness.media_timeout_s
    if timeout_s <= 0:
        await asyncio.Future()  # off: wait until cancelled
    while True:
        await timing.sleep(min(1.0, timeout_s / 4))
        idle_s = timing.clock() - last_media_at()
        if idle_s >= timeout_s:
            return idle_s


async def announce(
    pcm: bytes,
    *,
    rate_hz: int,
    push: Callable[[bytes], None],
    stopped: Callable[[], bool],
    timing: BridgeTiming,
) -> None:
    """Hand ``pcm`` (PCM16 mono at ``rate_hz``) to ``push`` in 20 ms pieces at real time,
    :data:`ANNOUNCE_LEAD_S` ahead; return :data:`ANNOUNCE_TAIL_S` after the last piece
    should have played, or as soon as ``stopped()`` (the socket closed)."""
    step = round(rate_hz * _ANNOUNCE_FRAME_S) * 2
    clock = timing.clock
    start = clock()
    sent_s = 0.0
    for offset in range(0, len(pcm), step):
        if stopped():
            return
        push(pcm[offset : offset + step])
        sent_s += _ANNOUNCE_FRAME_S
        ahead_s = start + sent_s - ANNOUNCE_LEAD_S - clock()
        if ahead_s > 0:
            await timing.sleep(ahead_s)
    remaining_s = start + sent_s + ANNOUNCE_TAIL_S - clock()
    if remaining_s > 0 and not stopped():
        await timing.sleep(remaining_s)
