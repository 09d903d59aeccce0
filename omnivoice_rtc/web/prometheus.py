"""Prometheus metrics of the web server, on a registry owned by one application.

Each :func:`~omnivoice_rtc.web.create_app` call gets its own
:class:`prometheus_client.CollectorRegistry`, so several apps (tests, embedding)
never collide on metric names. Route installers register their own collectors on
``app[METRICS_KEY].registry``.

=============================================  ==========================================
``omnivoice_http_requests_total``              requests by route pattern, method, status
``omnivoice_tokens_issued_total`` / ``_refused_total``  /api/token outcomes
``omnivoice_token_requests_total{outcome}``    the same, one family (issued, unauthorized…)
``omnivoice_calls_active{route,carrier}``      calls on now (from the ledger: every process's;
                                               with several replicas take ``max``, not ``sum``)
``omnivoice_calls_ended_total``                by route, carrier, end reason, who ended
``omnivoice_call_duration_seconds``            by route
``omnivoice_turn_latency_seconds{kind}``       per turn: stt, llm, tts, total
``omnivoice_mouth_to_ear_seconds{route}``      per turn, measured at the caller (the
                                               ledger's ``turn_latency`` events)
``omnivoice_shim_frames_total{carrier,kind}``  the shim's CallCounters of ended calls
``omnivoice_webhook_deliveries_total``         attempts by event and outcome
``omnivoice_webhook_delivery_latency_seconds`` event created → attempt done
``omnivoice_ledger_writes_total{outcome}``     facts written by this process
=============================================  ==========================================
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from omnivoice_rtc.ledger.record import CallRecord

__all__ = ["CallMetrics", "WebMetrics"]

_LATENCY_BUCKETS: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_DURATION_BUCKETS: Final = (5, 15, 30, 60, 120, 300, 600, 1200, 3600)
_SHIM_KINDS: Final = (
    "frames_in",
    "frames_out",
    "frames_late",
    "dropped_invalid",
    "dropped_before_start",
    "dropped_wrong_size",
    "dropped_before_room",
    "dropped_too_fast",
    "dropped_backlog",
    "dropped_outbound",
    "silence_shed",
)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebMetrics:
    """HTTP request counters and latency, token counters, process metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.http_requests = Counter(
            "omnivoice_http_requests",
            "HTTP requests handled, by route pattern, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_request_seconds = Histogram(
            "omnivoice_http_request_duration_seconds",
            "Time to produce an HTTP response (s), by route pattern; WebSockets excluded.",
            ["route"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            "omnivoice_tokens_issued",
            "Client tokens issued by /api/token.",
            registry=self.registry,
        )
        self.tokens_refused = Counter(
            "omnivoice_tokens_refused",
            "Requests to /api/token refused, by reason (unauthorized, rate_limited, bad_request).",
            ["reason"],
            registry=self.registry,
        )

        self.calls = CallMetrics(self.registry)
        self.registry.register(_TokenOutcomes(self))

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)

    content_type = CONTENT_TYPE_LATEST

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Count every request under its route pattern (never the raw path)."""
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = _route_label(request)
            self.http_requests.labels(route=route, method=request.method, status=str(status)).inc()
            if request.headers.get("Upgrade", "").lower() != "websocket":
                self.http_request_seconds.labels(route=route).observe(time.perf_counter() - started)


def _route_label(request: web.Request) -> str:
    info = request.match_info
    if isinstance(info, web.UrlMappingMatchInfo) and info.http_exception is None:
        resource = info.route.resource
        if resource is not None:
            return resource.canonical
    return "unmatched"


class _TokenOutcomes(Collector):
    """``omnivoice_token_requests_total{outcome}``: issued and refused tokens as one family."""

    def __init__(self, metrics: WebMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "omnivoice_token_requests",
            "Requests to /api/token by outcome (issued, unauthorized, rate_limited, bad_request).",
            labels=["outcome"],
        )
        for metric in self._metrics.tokens_issued.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    family.add_metric(["issued"], sample.value)
        for metric in self._metrics.tokens_refused.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    family.add_metric([sample.labels["reason"]], sample.value)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily("omnivoice_token_requests", "", labels=["outcome"])


class CallMetrics:
    """Calls, turns, the shim's frames, webhooks and the ledger (the ledger service's
    ``CallObserver``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.active = Gauge(
            "omnivoice_calls_active",
            "Calls in progress by route and carrier (every process's, from the ledger).",
            ["route", "carrier"],
            registry=registry,
        )
        self.ended = Counter(
            "omnivoice_calls_ended",
            "Calls whose record was closed, by route, carrier, end reason and who ended them.",
            ["route", "carrier", "end_reason", "ended_by"],
            registry=registry,
        )
        self.duration = Histogram(
            "omnivoice_call_duration_seconds",
            "Call duration from start to end (s), by route.",
            ["route"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.turn_latency = Histogram(
            "omnivoice_turn_latency_seconds",
            "Per-turn latency (s): stt (speech end -> transcript), llm (first token), "
            "tts (first audio), total (speech end -> agent answers).",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.mouth_to_ear = Histogram(
            "omnivoice_mouth_to_ear_seconds",
            "Per turn, measured at the caller (s): end of the caller's speech -> first "
            "agent audio heard (browser page or carrier shim), by route.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.shim_frames = Counter(
            "omnivoice_shim_frames",
            "Media-stream frames of ended shim calls by carrier and kind (frames_in, "
            "frames_out, frames_late, dropped_*).",
            ["carrier", "kind"],
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "omnivoice_webhook_deliveries",
            "Outbound webhook attempts by event type and outcome (delivered, retry, failed).",
            ["event", "outcome"],
            registry=registry,
        )
        self.webhook_latency = Histogram(
            "omnivoice_webhook_delivery_latency_seconds",
            "From a webhook event's creation to the end of a successful delivery (s).",
            ["event"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800),
            registry=registry,
        )
        self.ledger_writes = Counter(
            "omnivoice_ledger_writes",
            "Facts this process wrote to the call ledger, by outcome (ok, failed).",
            ["outcome"],
            registry=registry,
        )
        self.ledger_write_seconds = Histogram(
            "omnivoice_ledger_write_seconds",
            "Time to write one fact to the call ledger (s).",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self._active_labels: set[tuple[str, str]] = set()

    def call_finalized(self, record: CallRecord) -> None:
        labels = {"route": record.route or "unknown", "carrier": record.carrier}
        self.ended.labels(
            **labels, end_reason=record.end_reason or "unknown", ended_by=record.ended_by
        ).inc()
        if record.duration_s is not None:
            self.duration.labels(route=labels["route"]).observe(record.duration_s)
        for turn in record.turns:
            for kind, ms in (
                ("stt", turn.stt_ms),
                ("llm", turn.llm_ms),
                ("tts", turn.tts_ms),
                ("total", turn.total_ms),
            ):
                if ms is not None:
                    self.turn_latency.labels(kind=kind).observe(ms / 1000)
        for event in record.events:
            ms = event.data.get("mouth_to_ear_ms") if event.type == "turn_latency" else None
            if isinstance(ms, int) and not isinstance(ms, bool) and ms > 0:
                self.mouth_to_ear.labels(route=labels["route"]).observe(ms / 1000)

    def active_calls(self, counts: dict[tuple[str, str], int]) -> None:
        for key in self._active_labels - set(counts):
            self.active.labels(route=key[0], carrier=key[1]).set(0)
        for (route, carrier), n in counts.items():
            self.active.labels(route=route, carrier=carrier).set(n)
        self._active_labels |= set(counts)

    def shim_counters(self, carrier: str, counters: dict[str, int]) -> None:
        for kind in _SHIM_KINDS:
            value = counters.get(kind, 0)
            if value:
                self.shim_frames.labels(carrier=carrier, kind=kind).inc(value)

    def webhook_attempt(self, event_type: str, outcome: str, latency_s: float) -> None:
        self.webhook_deliveries.labels(event=event_type, outcome=outcome).inc()
        if outcome == "delivered":
            self.webhook_latency.labels(event=event_type).observe(latency_s)

    def ledger_write(self, ok: bool, seconds: float) -> None:
        self.ledger_writes.labels(outcome="ok" if ok else "failed").inc()
        self.ledger_write_seconds.observe(seconds)
