"""LedgerService: the call ledger inside the web server.

It owns the :class:`~.store.CallLedger` (opened on app start-up when
``OMNIVOICE_DATABASE_URL`` is not ``off``), and four tasks, all cancelled by
:meth:`LedgerService.aclose`:

* the writer: facts from the routes in this process (the shim, LiveKit's webhooks) are
  queued with :meth:`submit` and written in order, so a slow database never holds up a
  call;
* the sweeper (:class:`~.finalizer.CallSweeper`): announces and finalizes calls every
  ``sweep_s`` and refreshes the active-calls gauge;
* the webhook sender (:class:`~omnivoice_rtc.webhooks.dispatcher.WebhookSender`), when
  ``OMNIVOICE_WEBHOOK_URL`` is set;
* retention: every hour, deletes what is older than ``OMNIVOICE_RETENTION_DAYS``.

Prometheus figures go to a :class:`CallObserver` (the web server's metrics) whether
or not the ledger is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from omnivoice_rtc.ledger.facts import CallOpened
from omnivoice_rtc.ledger.finalizer import CallSweeper
from omnivoice_rtc.ledger.queries import purge_before
from omnivoice_rtc.ledger.record import CallRecord
from omnivoice_rtc.ledger.schema import CallRow
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import LedgerSettings, WebhookSettings
from omnivoice_rtc.webhooks.dispatcher import WebhookSender
from omnivoice_rtc.webhooks.outbox import Outcome

__all__ = ["CallObserver", "LedgerService", "Write"]

logger = logging.getLogger("omnivoice_rtc.ledger")

Write = Callable[[CallLedger], Awaitable[Any]]
"""One queued write: ``async (ledger) -> ...``."""

_QUEUE_LIMIT: Final = 10_000
_RETENTION_EVERY_S: Final = 3600.0
_ACTIVE_EVERY: Final = 10
"""Refresh the active-calls gauge every this many sweeps."""


class CallObserver(Protocol):
    """Where the service reports what Prometheus shows (``web.prometheus.CallMetrics``)."""

    def call_finalized(self, record: CallRecord) -> None: ...
    def active_calls(self, counts: dict[tuple[str, str], int]) -> None: ...
    def shim_counters(self, carrier: str, counters: dict[str, int]) -> None: ...
    def webhook_attempt(self, event_type: str, outcome: Outcome, latency_s: float) -> None: ...
    def ledger_write(self, ok: bool, seconds: float) -> None: ...


class LedgerService:
    """The ledger of one web server (see the module docstring)."""

    def __init__(
        self,
        *,
        settings: LedgerSettings,
        webhooks: WebhookSettings,
        observer: CallObserver,
        sweep_s: float = 0.5,
    ) -> None:
        self._settings = settings
        self._webhooks = webhooks
        self.observer = observer
        self._sweep_s = sweep_s
        self.ledger: CallLedger | None = None
        self.sender: WebhookSender | None = None
        self._queue: asyncio.Queue[Write] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    async def start(self) -> None:
        """Open the ledger (migrating it) and start the tasks; nothing when it is off."""
        if not self.enabled or self.ledger is not None:
            return
        self.ledger = await CallLedger.open(self._settings.database_url)
        if self._webhooks.enabled:
            self.sender = WebhookSender(
                ledger=self.ledger,
                settings=self._webhooks,
                observer=self.observer.webhook_attempt,
            )
            self.sender.start()
        sweeper = CallSweeper(
            ledger=self.ledger,
            endpoints=self._webhooks.urls,
            events=self._webhooks.events,
            report_wait_s=self._settings.report_wait_s,
            on_final=self.observer.call_finalized,
        )
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._write_loop(self.ledger), name="omnivoice.ledger_writer"),
            loop.create_task(self._sweep_loop(sweeper), name="omnivoice.ledger_sweeper"),
        ]
        if self._settings.retention_days > 0:
            self._tasks.append(loop.create_task(self._retention_loop(), name="omnivoice.retention"))
        logger.info("call ledger open", extra={"dialect": self.ledger.dialect})

    async def aclose(self) -> None:
        """Write what is queued (up to 5 s), stop the tasks, close the database."""
        if self.ledger is not None and self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), 5.0)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        sender, self.sender = self.sender, None
        if sender is not None:
            await sender.aclose()
        ledger, self.ledger = self.ledger, None
        if ledger is not None:
            await ledger.aclose()

    # ------------------------------------------------------------------ writes

    def submit(self, write: Write) -> None:
        """Queue ``write`` (never blocks; dropped with a warning when the queue is full)."""
        if self.ledger is None:
            return
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("ledger queue full; fact dropped")

    async def flush(self) -> None:
        """Wait until every queued write is done (tests, shutdown)."""
        if self.ledger is not None and self._tasks:
            await self._queue.join()

    def call_opened(self, fact: CallOpened) -> None:
        self.submit(lambda ledger: ledger.open_call(fact))

    def call_answered(self, call_id: str, *, at: datetime, source: str) -> None:
        self.submit(lambda ledger: ledger.mark_answered(call_id, at=at, source=source))

    def call_ended(self, call_id: str, *, at: datetime, reason: str, source: str) -> None:
        self.submit(lambda ledger: ledger.mark_ended(call_id, at=at, reason=reason, source=source))

    def route_counters(self, call_id: str, carrier: str, counters: dict[str, int]) -> None:
        """A shim call's ``CallCounters`` at its end: Prometheus, and the record."""
        self.observer.shim_counters(carrier, counters)
        self.submit(lambda ledger: ledger.set_counters(call_id, counters, source="shim"))

    async def _write_loop(self, ledger: CallLedger) -> None:
        loop = asyncio.get_running_loop()
        while True:
            write = await self._queue.get()
            started = loop.time()
            try:
                await write(ledger)
                self.observer.ledger_write(True, loop.time() - started)
            except (SQLAlchemyError, OSError, KeyError) as exc:
                self.observer.ledger_write(False, loop.time() - started)
                logger.warning("ledger write failed", extra={"error": str(exc)})
            finally:
                self._queue.task_done()

    # ------------------------------------------------------------------ sweeps

    async def sweep_once(self, sweeper: CallSweeper) -> None:
        result = await sweeper.sweep()
        if (result.announced or result.finalized) and self.sender is not None:
            self.sender.wake()

    async def _sweep_loop(self, sweeper: CallSweeper) -> None:
        count = 0
        while True:
            try:
                await self.sweep_once(sweeper)
                if count % _ACTIVE_EVERY == 0:
                    self.observer.active_calls(await self.active_counts())
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("ledger sweep failed", extra={"error": str(exc)})
            count += 1
            await asyncio.sleep(self._sweep_s)

    async def active_counts(self) -> dict[tuple[str, str], int]:
        """Calls on now, by (route, carrier)."""
        if self.ledger is None:
            return {}
        query = (
            select(CallRow.route, CallRow.carrier, func.count())
            .where(CallRow.status == "active")
            .group_by(CallRow.route, CallRow.carrier)
        )
        async with self.ledger.sessions() as session:
            rows = (await session.execute(query)).all()
        return {(route, carrier): int(n) for route, carrier, n in rows}

    async def purge_now(self) -> int:
        """Delete what retention says is too old; returns how many calls went."""
        if self.ledger is None or self._settings.retention_days <= 0:
            return 0
        cutoff = utc_now() - timedelta(days=self._settings.retention_days)
        counts = await purge_before(self.ledger, cutoff)
        if counts.calls:
            logger.info("old calls deleted", extra={"calls": counts.calls, "cutoff": cutoff})
        return counts.calls

    async def _retention_loop(self) -> None:
        while True:
            try:
                await self.purge_now()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("retention purge failed", extra={"error": str(exc)})
            await asyncio.sleep(_RETENTION_EVERY_S)
