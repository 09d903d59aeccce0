"""The web server's LedgerService: queued facts from the routes, the active-calls count,
the shim's counters in Prometheus and the record, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.ledger.store import utc_now
from omnivoice_rtc.settings import LedgerSettings, WebhookSettings
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.web.prometheus import CallMetrics
from tests.integration.ledger.helpers import browser_call

pytestmark = pytest.mark.integration


async def test_route_facts_counters_active_calls_and_retention(ledger_url: str) -> None:
    registry = CollectorRegistry()
    service = LedgerService(
        settings=LedgerSettings(database_url=ledger_url, retention_days=7, report_wait_s=0.0),
        webhooks=WebhookSettings(),
        observer=CallMetrics(registry),
        sweep_s=0.05,
    )
    await service.start()
    try:
        assert service.ledger is not None
        old = await service.ledger.open_call(
            browser_call("web-old", "v", at=utc_now() - timedelta(days=8))
        )
        call = CallInfo(call_id="CA77", from_="+1555", to="+1666", carrier="plivo")
        attributes = {"carrier": "plivo", "call_id": "CA77", "from": "+1555", "to": "+1666"}
        call_id = route_call_started(
            service,
            room_name="call-plivo-CA77",
            identity="caller-plivo-CA77",
            attributes=attributes,
            call=call,
        )
        await service.flush()
        assert (await service.active_counts())[("media_stream", "plivo")] == 1
        route_call_ended(
            service,
            call_id,
            reason="carrier_stop",
            carrier="plivo",
            counters={"frames_in": 50, "frames_late": 3},
        )
        await service.flush()
        record = await get_call(service.ledger, "CA77")
        await service.purge_now()  # (the retention task may have been first)
        assert await get_call(service.ledger, old) is None
        assert await get_call(service.ledger, call_id) is not None
    finally:
        await service.aclose()
    assert record is not None
    assert (record.end_reason, record.ended_by, record.carrier) == (
        "carrier_stop",
        "caller",
        "plivo",
    )
    assert record.answered_at is not None
    assert record.counters == {"frames_in": 50, "frames_late": 3}
    text = generate_latest(registry).decode()
    assert 'omnivoice_shim_frames_total{carrier="plivo",kind="frames_late"} 3.0' in text
    assert 'omnivoice_ledger_writes_total{outcome="ok"}' in text


async def test_off_records_nothing_and_never_fails() -> None:
    service = LedgerService(
        settings=LedgerSettings(),
        webhooks=WebhookSettings(),
        observer=CallMetrics(CollectorRegistry()),
    )
    await service.start()
    assert service.ledger is None
    route_call_ended(service, "call_x", reason="carrier_stop")
    await service.flush()
    assert await service.active_counts() == {}
    await service.aclose()
