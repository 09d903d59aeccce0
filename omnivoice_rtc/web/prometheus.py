"""Prometheus metrics of the web server, on a registry owned by one application.

Each :func:`~omnivoice_rtc.web.create_app` call gets its own
:class:`prometheus_client.CollectorRegistry`, so several apps (tests, embedding)
never collide on metric names. Route installers register their own collectors on
``app[METRICS_KEY].registry``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = ["WebMetrics"]

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
