"""SleepingClock: a VirtualClock whose ``sleep`` wakes when the test advances the clock.

Code that waits by time (the bridge's media-inactivity watch, the apology's pacing) takes a
``clock`` and a ``sleep``; a test passes ``clock`` and ``clock.sleep`` and moves time with
``clock.advance(s)``: every sleeper whose deadline has come is woken, none sooner. No real
time passes and nothing spins.
"""

from __future__ import annotations

import asyncio

from omnivoice_rtc._clock import VirtualClock

__all__ = ["SleepingClock"]


class SleepingClock(VirtualClock):
    """See the module docstring. ``sleepers`` is how many sleeps are waiting now."""

    def __init__(self, start_s: float = 1000.0) -> None:
        super().__init__(start_s)
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def sleepers(self) -> int:
        return sum(not future.done() for _deadline, future in self._sleepers)

    def advance(self, seconds: float) -> None:
        super().advance(seconds)
        now = self()
        for deadline, future in self._sleepers:
            if deadline <= now and not future.done():
                future.set_result(None)
        self._sleepers = [(d, f) for d, f in self._sleepers if not f.done()]

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has been advanced by ``seconds`` (s) from now."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self() + seconds, future))
        await future
