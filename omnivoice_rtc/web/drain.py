"""Drain: a rolling restart of one web process without dropping a call.

On SIGTERM (:func:`omnivoice_rtc.web.server.serve`) or :meth:`WebServer.drain
<omnivoice_rtc.web.server.WebServer.drain>` the process drains:

1. ``/healthz`` answers **503** ``{"status": "draining", ...}`` at once, so a load
   balancer's health check takes the replica out (deploy/haproxy.cfg checks every second);
2. every drain participant is told to take no new calls (carrier answer webhooks get 503
   with Retry-After, which HAProxy retries on another replica; a media stream whose call
   was already answered is still accepted: it is a call in progress);
3. live calls go on until they end or ``OMNIVOICE_DRAIN_S`` s have passed;
4. the calls still live are ended cleanly (carrier REST hang-up where configured, socket
   closed, ledger record) and the app shuts down as before.

Call routes join with :meth:`Drain.track` (the carrier routes do:
:mod:`omnivoice_rtc.shim.routes`). A second SIGTERM/SIGINT skips the wait (step 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["DRAIN_REASON", "Drain", "DrainReport", "DrainTarget"]

logger = logging.getLogger(__name__)

DRAIN_REASON: Final = "drain_deadline"
"""The end reason of calls still live when the drain deadline passed."""
_POLL_S: Final = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainTarget:
    """One route's part in a drain: ``stop_taking`` (no new calls from now on),
    ``live_calls`` (how many it serves now), ``end_calls`` (end them all with a reason)."""

    name: str
    stop_taking: Callable[[], None]
    live_calls: Callable[[], int]
    end_calls: Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainReport:
    """What a drain did: calls live when it began, calls that ended by themselves, calls
    ended at the deadline, and how long it took (s)."""

    live_at_start: int
    ended_by_themselves: int
    ended_at_deadline: int
    waited_s: float


class Drain:
    """The drain state of one web process (``app[DRAIN_KEY]``); see the module docstring.
    ``drain_s``: how long (s) live calls may go on once draining."""

    def __init__(self, *, drain_s: float) -> None:
        if drain_s < 0:
            raise ValueError(f"Drain.drain_s: must be >= 0 s, got {drain_s!r}")
        self.drain_s = drain_s
        self._targets: list[DrainTarget] = []
        self._started_at: float | None = None
        self._skip = asyncio.Event()
        self.report: DrainReport | None = None

    @property
    def draining(self) -> bool:
        return self._started_at is not None

    def track(self, target: DrainTarget) -> None:
        """Take part in the drain (route installers call this at install time)."""
        self._targets.append(target)
        if self.draining:
            target.stop_taking()

    def live_calls(self) -> int:
        """Calls served by this process now, over every target."""
        return sum(t.live_calls() for t in self._targets)

    def begin(self) -> None:
        """Stop taking new calls (health 503); idempotent."""
        if self._started_at is not None:
            return
        self._started_at = time.monotonic()
        for target in self._targets:
            target.stop_taking()
        logger.info("draining", extra={"live_calls": self.live_calls(), "drain_s": self.drain_s})

    def hurry(self) -> None:
        """End the wait now (a second signal): the live calls are ended at once."""
        self._skip.set()

    async def run(self) -> DrainReport:
        """:meth:`begin`, wait for the live calls (at most ``drain_s`` s), end the rest."""
        self.begin()
        assert self._started_at is not None
        started = self._started_at
        live_at_start = self.live_calls()
        deadline = started + self.drain_s
        while self.live_calls() > 0 and not self._skip.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):  # poll the live calls again
                await asyncio.wait_for(self._skip.wait(), timeout=min(_POLL_S, left))
        remaining = self.live_calls()
        if remaining:
            logger.warning("drain deadline: ending live calls", extra={"live_calls": remaining})
            await asyncio.gather(*(t.end_calls(DRAIN_REASON) for t in self._targets))
        self.report = DrainReport(
            live_at_start=live_at_start,
            ended_by_themselves=max(live_at_start - remaining, 0),
            ended_at_deadline=remaining,
            waited_s=round(time.monotonic() - started, 3),
        )
        logger.info(
            "drained",
            extra={
                "live_at_start": live_at_start,
                "ended_at_deadline": remaining,
                "waited_s": self.report.waited_s,
            },
        )
        return self.report
