"""Outbound webhooks from the durable outbox to a real receiver on loopback: signed,
retried with back-off, failed after the cap, never sent twice by two senders, and sent
after a restart in the middle of a delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from omnivoice_rtc.ledger.schema import WebhookAttemptRow, WebhookDeliveryRow
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import WebhookSettings
from omnivoice_rtc.webhooks.dispatcher import WebhookSender
from omnivoice_rtc.webhooks.outbox import RetryPolicy, enqueue
from tests.integration.ledger.helpers import browser_call
from tests.integration.webhooks.receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec-test-1"


@pytest.fixture
async def ledger(ledger_url: str) -> AsyncIterator[CallLedger]:
    ledger = await CallLedger.open(ledger_url)
    try:
        yield ledger
    finally:
        await ledger.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver(secret=SECRET).start()
    try:
        yield receiver
    finally:
        await receiver.aclose()


def _settings(url: str, **overrides: float) -> WebhookSettings:
    values = {"backoff_s": 0.05, "backoff_cap_s": 0.2, "timeout_s": 2.0, **overrides}
    return WebhookSettings(urls=(url,), secrets=(SECRET,), **values)  # type: ignore[arg-type]


async def _event(ledger: CallLedger, url: str, event_type: str = "call.started") -> str:
    call_id = await ledger.open_call(browser_call())
    async with ledger.transaction() as session:
        return await enqueue(
            session,
            event_type=event_type,
            call_id=call_id,
            data={"id": call_id},
            endpoints=[url],
            now=utc_now(),
        )


async def _attempts(ledger: CallLedger) -> list[WebhookAttemptRow]:
    async with ledger.sessions() as session:
        return list(
            (
                await session.execute(select(WebhookAttemptRow).order_by(WebhookAttemptRow.id))
            ).scalars()
        )


async def _deliveries(ledger: CallLedger) -> list[WebhookDeliveryRow]:
    async with ledger.sessions() as session:
        return list((await session.execute(select(WebhookDeliveryRow))).scalars())


async def test_delivered_signed_with_its_idempotency_key(
    ledger: CallLedger, receiver: WebhookReceiver
) -> None:
    observed: list[tuple[str, str]] = []
    event_id = await _event(ledger, receiver.url)
    sender = WebhookSender(
        ledger=ledger,
        settings=_settings(receiver.url),
        poll_s=0.05,
        observer=lambda t, o, _s: observed.append((t, o)),
    )
    sender.start()
    try:
        await receiver.wait_for(lambda: receiver.accepted)
        await asyncio.sleep(0.2)
    finally:
        await sender.aclose()
    assert [d.event_id for d in receiver.accepted] == [event_id]
    assert receiver.accepted[0].event["type"] == "call.started"
    assert receiver.accepted[0].event["id"] == event_id
    assert receiver.rejected == 0
    assert observed == [("call.started", "delivered")]
    [delivery] = await _deliveries(ledger)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
    assert [(a.attempt, a.status_code) for a in await _attempts(ledger)] == [(1, 200)]


async def test_retried_with_back_off_until_the_receiver_answers(
    ledger: CallLedger, receiver: WebhookReceiver
) -> None:
    receiver.fail_first = 2
    event_id = await _event(ledger, receiver.url)
    sender = WebhookSender(ledger=ledger, settings=_settings(receiver.url), poll_s=0.02)
    sender.start()
    try:
        await receiver.wait_for(lambda: receiver.accepted)
    finally:
        await sender.aclose()
    assert receiver.seen == [event_id] * 3  # the same idempotency key on every attempt
    assert receiver.ids("call.started") == [event_id]
    attempts = await _attempts(ledger)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 503), (3, 200)]
    [delivery] = await _deliveries(ledger)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


async def test_failed_after_the_last_attempt(ledger: CallLedger, receiver: WebhookReceiver) -> None:
    receiver.fail_first = 100
    await _event(ledger, receiver.url)
    sender = WebhookSender(
        ledger=ledger, settings=_settings(receiver.url, max_attempts=3), poll_s=0.02
    )
    sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.seen) >= 3)
        await asyncio.sleep(0.5)  # a fourth attempt would come within this
    finally:
        await sender.aclose()
    assert len(receiver.seen) == 3
    [delivery] = await _deliveries(ledger)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 503")


def test_back_off_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_s=1.0, cap_s=10.0)
    assert [policy.delay_s(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_two_senders_never_send_the_same_attempt(
    ledger: CallLedger, receiver: WebhookReceiver
) -> None:
    ids = [await _event(ledger, receiver.url) for _ in range(12)]
    senders = [
        WebhookSender(ledger=ledger, settings=_settings(receiver.url), poll_s=0.02)
        for _ in range(2)
    ]
    for sender in senders:
        sender.start()
    try:
        await receiver.wait_for(lambda: len(receiver.accepted) >= len(ids))
        await asyncio.sleep(0.3)
    finally:
        for sender in senders:
            await sender.aclose()
    assert sorted(receiver.seen) == sorted(ids)  # each exactly once
    assert sorted(receiver.ids("call.started")) == sorted(ids)


async def test_a_restart_in_the_middle_of_a_delivery_sends_it_again(
    ledger: CallLedger, receiver: WebhookReceiver
) -> None:
    receiver.hang_first = 1
    event_id = await _event(ledger, receiver.url, "call.ended")
    first = WebhookSender(ledger=ledger, settings=_settings(receiver.url), poll_s=0.02, grace_s=0.2)
    first.start()
    await receiver.wait_for(lambda: receiver.seen)  # the request is in flight, unanswered
    await first.aclose()  # the server stops: the attempt is abandoned, its lease given back
    [pending] = await _deliveries(ledger)
    assert (pending.status, pending.lease_owner) == ("pending", "")
    second = WebhookSender(ledger=ledger, settings=_settings(receiver.url), poll_s=0.02)
    second.start()
    try:
        await receiver.wait_for(lambda: receiver.accepted)
    finally:
        await second.aclose()
    assert receiver.ids("call.ended") == [event_id]
    assert receiver.seen == [event_id, event_id]
    [delivery] = await _deliveries(ledger)
    assert delivery.status == "delivered"


async def test_an_endpoint_no_longer_configured_is_left_alone(
    ledger: CallLedger, receiver: WebhookReceiver
) -> None:
    call_id = await ledger.open_call(browser_call())
    async with ledger.transaction() as session:
        await enqueue(
            session,
            event_type="call.started",
            call_id=call_id,
            data={"id": call_id},
            endpoints=[receiver.url, "http://127.0.0.1:9/removed"],
            now=utc_now(),
        )
    sender = WebhookSender(ledger=ledger, settings=_settings(receiver.url), poll_s=0.02)
    sender.start()
    try:
        await receiver.wait_for(lambda: receiver.accepted)
        await asyncio.sleep(0.3)
    finally:
        await sender.aclose()
    states = {d.endpoint: (d.status, d.attempts) for d in await _deliveries(ledger)}
    assert states == {receiver.url: ("delivered", 1), "http://127.0.0.1:9/removed": ("pending", 0)}
