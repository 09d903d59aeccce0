"""LeaseKeeper: keeps slots and live-call claims alive while their holder lives.

Counted slots and registry claims carry a TTL so that a process that dies frees them;
the process that holds them refreshes each one every ``interval_s`` s. One keeper task
refreshes everything a component holds; it runs only while something is held (it ends
itself when the last lease is dropped) and :meth:`LeaseKeeper.aclose` cancels it. A
refresh that fails (the store unreachable) is logged and tried again at the next tick; a
refresh that reports the lease lost is logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from omnivoice_rtc._errors import OmniVoiceError

__all__ = ["LeaseKeeper", "Refresh"]

logger = logging.getLogger(__name__)

Refresh = Callable[[], Awaitable[bool]]
"""Extends one lease; False when it was lost."""


class LeaseKeeper:
    """Refreshes leases every ``interval_s`` s (see the module docstring)."""

    __slots__ = ("_interval", "_leases", "_task")

    def __init__(self, *, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError(f"LeaseKeeper.interval_s: must be > 0 s, got {interval_s!r}")
        self._interval = interval_s
        self._leases: dict[str, Refresh] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._leases)

    def keep(self, name: str, refresh: Refresh) -> None:
        """Refresh the lease ``name`` with ``refresh`` until :meth:`drop`."""
        self._leases[name] = refresh
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="omnivoice.lease_keeper"
            )

    def drop(self, name: str) -> None:
        """Stop refreshing ``name`` (the caller releases it)."""
        self._leases.pop(name, None)

    async def _run(self) -> None:
        while self._leases:
            await asyncio.sleep(self._interval)
            for name, refresh in list(self._leases.items()):
                try:
                    kept = await refresh()
                except OmniVoiceError as exc:  # store unreachable: try again next tick
                    logger.warning("lease refresh failed", extra={"lease": name, "error": str(exc)})
                    continue
                if not kept and self._leases.pop(name, None) is not None:
                    logger.warning("lease lost", extra={"lease": name})

    async def aclose(self) -> None:
        """Stop refreshing everything (leases then expire unless released)."""
        self._leases.clear()
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
