"""WebhookSender: delivers the outbox's due webhooks from one owned task.

Every ``poll_s`` it leases the due deliveries (:func:`~.outbox.claim_due`), POSTs each
signed body (:func:`~.signing.signed_headers`, a fresh timestamp per attempt, the same
idempotency key) with at most ``concurrency`` requests in flight, and records the
outcome (:func:`~.outbox.record_attempt`). :meth:`WebhookSender.wake` makes it look
at once (a new event). :meth:`aclose` stops taking work, lets the attempts in flight
finish for up to ``grace_s``, cancels the rest and gives back their leases, so a
restarted server (or another replica) sends what was cut off (with the same
idempotency key: a receiver that did get it sees the id again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Final

import aiohttp
from sqlalchemy.exc import SQLAlchemyError

from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import WebhookSettings
from omnivoice_rtc.webhooks.outbox import (
    Claim,
    Outcome,
    RetryPolicy,
    claim_due,
    record_attempt,
    release_leases,
)
from omnivoice_rtc.webhooks.signing import signed_headers

__all__ = ["DeliveryObserver", "WebhookSender"]

logger = logging.getLogger("omnivoice_rtc.webhooks")

DeliveryObserver = Callable[[str, Outcome, float], None]
"""Called after every attempt with (event type, outcome, seconds from the event's
creation to this attempt's end)."""

_LEASE_MARGIN_S: Final = 5.0


class WebhookSender:
    """Sends the outbox of ``ledger`` to the endpoints of ``settings`` (see module doc)."""

    def __init__(
        self,
        *,
        ledger: CallLedger,
        settings: WebhookSettings,
        poll_s: float = 0.5,
        concurrency: int = 8,
        observer: DeliveryObserver | None = None,
        grace_s: float = 2.0,
    ) -> None:
        self._ledger = ledger
        self._secrets = dict(settings.endpoints())
        self._timeout_s = settings.timeout_s
        self._policy = RetryPolicy(
            max_attempts=settings.max_attempts,
            base_s=settings.backoff_s,
            cap_s=settings.backoff_cap_s,
        )
        self._poll_s = poll_s
        self._grace_s = grace_s
        self._inflight: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(concurrency)
        self._observer = observer or (lambda event_type, outcome, latency_s: None)
        self.owner = f"sender-{secrets.token_hex(6)}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if self._task is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout_s))
            self._task = asyncio.create_task(self._run(), name="omnivoice.webhook_sender")

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=self._grace_s)
        for delivery in list(self._inflight):
            delivery.cancel()
        await asyncio.gather(*list(self._inflight), return_exceptions=True)
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        try:
            await release_leases(self._ledger, owner=self.owner)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("webhook leases not released", extra={"error": str(exc)})

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.send_due()
            except (SQLAlchemyError, OSError) as exc:
                logger.warning("webhook outbox unavailable", extra={"error": str(exc)})
                sent = 0
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def send_due(self) -> int:
        """Lease and send what is due now; returns how many attempts were made."""
        lease_s = self._timeout_s + _LEASE_MARGIN_S
        claims = await claim_due(
            self._ledger,
            owner=self.owner,
            now=utc_now(),
            lease_s=lease_s,
            endpoints=list(self._secrets),
        )
        tasks = [asyncio.ensure_future(self._deliver(claim)) for claim in claims]
        self._inflight.update(tasks)
        for task in tasks:
            task.add_done_callback(self._inflight.discard)
        await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
        return len(claims)

    async def _deliver(self, claim: Claim) -> None:
        async with self._limit:
            status, error, elapsed_s = await self._post(claim)
        try:
            outcome = await record_attempt(
                self._ledger,
                claim,
                owner=self.owner,
                now=utc_now(),
                status_code=status,
                error=error,
                duration_ms=round(elapsed_s * 1000),
                policy=self._policy,
            )
        except (SQLAlchemyError, OSError) as exc:  # the lease runs out; it is tried again
            logger.warning("webhook attempt not recorded", extra={"error": str(exc)})
            return
        latency_s = (utc_now() - claim.created_at).total_seconds()
        self._observer(claim.event_type, outcome, latency_s)
        log = logger.info if outcome == "delivered" else logger.warning
        log(
            "webhook attempt",
            extra={
                "event_id": claim.event_id,
                "event": claim.event_type,
                "attempt": claim.attempt,
                "status": status,
                "outcome": outcome,
                "error": error,
            },
        )

    async def _post(self, claim: Claim) -> tuple[int, str, float]:
        """(HTTP status or 0, error text, seconds taken)."""
        started = time.perf_counter()
        secret = self._secrets.get(claim.endpoint)
        if secret is None or self._http is None:
            return 0, "endpoint no longer configured", 0.0
        headers = signed_headers(
            secret=secret, event_id=claim.event_id, event_type=claim.event_type, body=claim.body
        )
        try:
            async with self._http.post(claim.endpoint, data=claim.body, headers=headers) as reply:
                await reply.read()
                error = "" if 200 <= reply.status < 300 else f"HTTP {reply.status}"
                return reply.status, error, time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - started
