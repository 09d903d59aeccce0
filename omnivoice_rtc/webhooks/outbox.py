"""The durable outbox of outbound webhooks, in the ledger's database.

An event is written in the same transaction as the ledger change it announces
(:func:`enqueue`: one ``webhook_events`` row, the idempotency key, and one
``webhook_deliveries`` row per endpoint), so it survives restarts and is never announced
twice. Senders take due deliveries with a lease (:func:`claim_due`: a conditional
``UPDATE`` per row, so several web replicas never send the same attempt at once; a
replica that dies mid-delivery loses its lease after ``lease_s``), and write the outcome
of every attempt to the delivery log (:func:`record_attempt`): delivered, retry after
an exponential back-off (capped), or failed once the attempts are used up.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnivoice_rtc.ledger.record import iso
from omnivoice_rtc.ledger.schema import WebhookAttemptRow, WebhookDeliveryRow, WebhookEventRow
from omnivoice_rtc.ledger.store import CallLedger

__all__ = [
    "Claim",
    "Outcome",
    "RetryPolicy",
    "claim_due",
    "enqueue",
    "new_event_id",
    "record_attempt",
    "release_leases",
]

Outcome = Literal["delivered", "retry", "failed"]


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Attempt ``n`` (1-based) that fails waits ``min(cap_s, base_s * 2**(n-1))`` s;
    after ``max_attempts`` the delivery is failed."""

    max_attempts: int = 12
    base_s: float = 1.0
    cap_s: float = 600.0

    def delay_s(self, attempt: int) -> float:
        return float(min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1)))


async def enqueue(
    session: AsyncSession,
    *,
    event_type: str,
    call_id: str,
    data: dict[str, Any],
    endpoints: Sequence[str],
    now: datetime,
) -> str:
    """Write one event and its deliveries in ``session``'s transaction; returns its id."""
    event_id = new_event_id()
    body = {"id": event_id, "type": event_type, "created_at": iso(now), "data": data}
    session.add(
        WebhookEventRow(
            id=event_id,
            type=event_type,
            call_id=call_id,
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            created_at=now,
        )
    )
    await session.flush()  # the event row first: deliveries reference it
    for endpoint in endpoints:
        session.add(
            WebhookDeliveryRow(
                event_id=event_id,
                endpoint=endpoint,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                lease_owner="",
                last_status=0,
                last_error="",
                created_at=now,
            )
        )
    return event_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A delivery this sender holds the lease of until ``lease_until``."""

    delivery_id: int
    event_id: str
    event_type: str
    endpoint: str
    body: bytes
    attempt: int
    """The attempt about to be made (1 for the first)."""
    created_at: datetime


async def claim_due(
    ledger: CallLedger,
    *,
    owner: str,
    now: datetime,
    lease_s: float,
    endpoints: Sequence[str],
    limit: int = 20,
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries (pending, due, lease free) to ``owner``, for
    the ``endpoints`` it can sign for (one removed from the settings is left alone)."""
    free = or_(WebhookDeliveryRow.lease_until.is_(None), WebhookDeliveryRow.lease_until < now)
    due = (
        select(WebhookDeliveryRow.id)
        .where(
            WebhookDeliveryRow.status == "pending",
            WebhookDeliveryRow.next_attempt_at <= now,
            WebhookDeliveryRow.endpoint.in_(list(endpoints)),
            free,
        )
        .order_by(WebhookDeliveryRow.next_attempt_at)
        .limit(limit)
    )
    until = now + timedelta(seconds=lease_s)
    claimed: list[Claim] = []
    async with ledger.transaction() as session:
        for delivery_id in list((await session.execute(due)).scalars()):
            taken = await session.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id == delivery_id, free)
                .values(lease_owner=owner, lease_until=until)
            )
            if getattr(taken, "rowcount", 0) != 1:
                continue  # another sender took it
            row = await session.get(WebhookDeliveryRow, delivery_id)
            event = await session.get(WebhookEventRow, row.event_id) if row else None
            if row is None or event is None:
                continue
            claimed.append(
                Claim(
                    delivery_id=row.id,
                    event_id=event.id,
                    event_type=event.type,
                    endpoint=row.endpoint,
                    body=event.body.encode(),
                    attempt=row.attempts + 1,
                    created_at=event.created_at,
                )
            )
    return claimed


async def record_attempt(
    ledger: CallLedger,
    claim: Claim,
    *,
    owner: str,
    now: datetime,
    status_code: int,
    error: str,
    duration_ms: int,
    policy: RetryPolicy,
) -> Outcome:
    """Log one attempt and move the delivery on: delivered (2xx), retry, or failed."""
    ok = 200 <= status_code < 300
    if ok:
        outcome: Outcome = "delivered"
    elif claim.attempt >= policy.max_attempts:
        outcome = "failed"
    else:
        outcome = "retry"
    async with ledger.transaction() as session:
        session.add(
            WebhookAttemptRow(
                delivery_id=claim.delivery_id,
                attempt=claim.attempt,
                at=now,
                duration_ms=duration_ms,
                status_code=status_code,
                error=error[:2000],
                worker=owner,
            )
        )
        values: dict[str, Any] = {
            "attempts": claim.attempt,
            "lease_owner": "",
            "lease_until": None,
            "last_status": status_code,
            "last_error": error[:2000],
        }
        if outcome == "delivered":
            values.update(status="delivered", delivered_at=now)
        elif outcome == "failed":
            values.update(status="failed")
        else:
            values.update(next_attempt_at=now + timedelta(seconds=policy.delay_s(claim.attempt)))
        await session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.id == claim.delivery_id)
            .values(**values)
        )
    return outcome


async def release_leases(ledger: CallLedger, *, owner: str) -> None:
    """Give back every lease ``owner`` holds (a sender stopping mid-delivery)."""
    async with ledger.transaction() as session:
        await session.execute(
            update(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.lease_owner == owner, WebhookDeliveryRow.status == "pending")
            .values(lease_owner="", lease_until=None)
        )
