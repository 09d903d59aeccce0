"""/metrics: a finalized call's mouth-to-ear reports (the ledger's ``turn_latency`` events)
feed ``omnivoice_mouth_to_ear_seconds{route}``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from omnivoice_rtc.ledger.record import CallEventRecord, CallRecord
from omnivoice_rtc.web.prometheus import CallMetrics

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


def _event(kind: str, data: dict[str, object]) -> CallEventRecord:
    return CallEventRecord(at=NOW, type=kind, source="agent", data=data)


def test_each_reported_turn_is_observed_by_route() -> None:
    registry = CollectorRegistry()
    metrics = CallMetrics(registry)
    record = CallRecord(
        id="c1",
        room_name="r",
        participant_identity="p",
        route="media_stream",
        created_at=NOW,
        ended_at=NOW,
        events=(
            _event("turn_latency", {"mouth_to_ear_ms": 640, "measured_by": "carrier"}),
            _event("turn_latency", {"mouth_to_ear_ms": 900, "measured_by": "carrier"}),
            _event("turn_latency", {"mouth_to_ear_ms": "bad", "measured_by": "carrier"}),
            _event("dtmf", {"digit": "5"}),
        ),
    )
    metrics.call_finalized(record)
    labels = {"route": "media_stream"}
    assert registry.get_sample_value("omnivoice_mouth_to_ear_seconds_count", labels) == 2
    assert registry.get_sample_value("omnivoice_mouth_to_ear_seconds_sum", labels) == (
        pytest.approx(1.54)
    )
