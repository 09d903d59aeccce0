"""The aiohttp application: page, /api/token, /healthz, /metrics, plus installed routes.

Built-in routes:

=====================  ==========================================================
``GET /``              the browser page (``static/index.html``)
``GET /static/...``    the page's JS/CSS and ``vendor/livekit-client.umd.js``
``GET|POST /api/token`` room token for the page (:mod:`omnivoice_rtc.web.token_endpoint`)
``GET /healthz``       ``{"status": "ok", ...}`` (200); ``{"status": "draining", ...}`` (503)
                       once a rolling restart began (:mod:`omnivoice_rtc.web.drain`)
``GET /metrics``       Prometheus text format (needs the key when ``OMNIVOICE_TOKEN_KEY`` is set)
``POST /livekit/webhook``  LiveKit's webhooks (:mod:`omnivoice_rtc.livekit.webhooks`)
``GET /calls[/{id}]``  the call history page; ``/api/calls[/{id}]`` its data
                       (:mod:`omnivoice_rtc.web.call_history`)
=====================  ==========================================================

The call ledger (:class:`~omnivoice_rtc.ledger.service.LedgerService`, ``app[LEDGER_KEY]``)
opens on start-up and closes on clean-up; LiveKit's webhooks feed it. Replicas: the
process's name in the live-call registry is ``OMNIVOICE_REPLICA_ID`` (else generated once
here, in ``app[SETTINGS_KEY].state.replica_id``); ``app[CALL_ROUTER_KEY]`` forwards
call-control actions to the replica serving the call; ``app[DRAIN_KEY]`` drains on SIGTERM.

Everything else (carrier webhooks, media WebSockets) comes from route installers,
see :mod:`omnivoice_rtc.web.installers`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from omnivoice_rtc.ledger.livekit_events import subscribe_ledger
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.livekit.webhooks import LIVEKIT_WEBHOOK_PATH, LiveKitWebhooks
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.state import RedisStateStore, state_store_from_settings
from omnivoice_rtc.state.call_registry import LiveCallRegistry, new_replica_id
from omnivoice_rtc.state.call_routing import CallRouter
from omnivoice_rtc.web.call_history import (
    authorized,
    handle_call,
    handle_calls,
    handle_calls_page,
    unauthorized,
)
from omnivoice_rtc.web.drain import Drain
from omnivoice_rtc.web.installers import RouteInstaller
from omnivoice_rtc.web.keys import (
    CALL_ROUTER_KEY,
    DRAIN_KEY,
    LEDGER_KEY,
    LIVEKIT_WEBHOOKS_KEY,
    METRICS_KEY,
    SETTINGS_KEY,
    STATE_KEY,
)
from omnivoice_rtc.web.prometheus import WebMetrics
from omnivoice_rtc.web.token_endpoint import TOKEN_LIMITER_KEY, handle_token, new_token_limiter

__all__ = ["STATIC_DIR", "VENDOR_JS", "create_app"]

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
VENDOR_JS: Final = STATIC_DIR / "vendor" / "livekit-client.umd.js"
"""Installed by ``scripts/install-web.sh`` (``make web-deps``); not in git."""

_MAX_REQUEST_BYTES: Final = 1024 * 1024
"""Largest request body aiohttp accepts for any route (bytes)."""

_STARTED_AT_KEY = web.AppKey("omnivoice_started_at", float)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_PAGE_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self' ws: wss: http: https:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class _MalformedRequestLog(logging.Filter):
    """aiohttp answers a malformed request (a header line over 8190 bytes, bytes that are
    no HTTP) with 400 itself, then logs it at ERROR with a traceback: hostile input must
    leave one warning line, not a traceback. Other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "malformed request refused"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
            record.__dict__["status"] = error.code
            record.__dict__["reason"] = type(error).__name__
        return True


_MALFORMED_REQUEST_LOG = _MalformedRequestLog()


@web.middleware
async def _security_headers(request: web.Request, handler: _Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC_DIR / "index.html",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": _PAGE_CSP,
            "X-Frame-Options": "DENY",
        },
    )


async def _healthz(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    drain = request.app[DRAIN_KEY]
    return web.json_response(
        {
            "status": "draining" if drain.draining else "ok",
            "agent_name": settings.agent_name,
            "page_assets": VENDOR_JS.is_file(),
            "uptime_s": round(time.monotonic() - request.app[_STARTED_AT_KEY], 3),
            "live_calls": drain.live_calls(),
        },
        status=503 if drain.draining else 200,
        headers={"Cache-Control": "no-store"},
    )


async def _metrics(request: web.Request) -> web.Response:
    if not authorized(request, request.app[SETTINGS_KEY].tokens.key):
        return unauthorized()
    metrics = request.app[METRICS_KEY]
    response = web.Response(body=metrics.render(), headers={"Cache-Control": "no-store"})
    response.headers["Content-Type"] = metrics.content_type
    return response


def create_app(
    settings: Settings, *, route_installers: Iterable[RouteInstaller] = ()
) -> web.Application:
    """Build the web application for ``settings``; apply ``route_installers`` in order.

    An installer that routes a method and path already taken raises ValueError here,
    at startup (aiohttp would otherwise let the first route shadow the second).
    """
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_REQUEST_LOG)  # once per process
    metrics = WebMetrics()
    app = web.Application(
        middlewares=[metrics.middleware, _security_headers],
        client_max_size=_MAX_REQUEST_BYTES,
    )
    if not settings.state.replica_id:  # one name per process, for every registry user
        state_settings = dataclasses.replace(settings.state, replica_id=new_replica_id())
        settings = dataclasses.replace(settings, state=state_settings)
    state = state_store_from_settings(settings.state)
    app[SETTINGS_KEY] = settings
    app[METRICS_KEY] = metrics
    app[STATE_KEY] = state
    app[DRAIN_KEY] = Drain(drain_s=settings.web.drain_s)
    router = CallRouter(
        registry=LiveCallRegistry(store=state, replica_id=settings.state.replica_id),
        redis=state.client if isinstance(state, RedisStateStore) else None,
    )
    app[CALL_ROUTER_KEY] = router
    app[TOKEN_LIMITER_KEY] = new_token_limiter(state, settings)
    app[_STARTED_AT_KEY] = time.monotonic()
    _install_ledger(app, settings, metrics)

    app.router.add_get("/", _index, name="page")
    app.router.add_get("/healthz", _healthz, name="healthz")
    app.router.add_get("/metrics", _metrics, name="metrics")
    app.router.add_route("GET", "/api/token", handle_token, name="token")
    app.router.add_route("POST", "/api/token", handle_token)
    app.router.add_static("/static/", STATIC_DIR, name="static", follow_symlinks=False)
    app.router.add_post(
        LIVEKIT_WEBHOOK_PATH, app[LIVEKIT_WEBHOOKS_KEY].handle, name="livekit_webhook"
    )
    app.router.add_get("/calls", handle_calls_page, name="calls_page")
    app.router.add_get("/calls/{id}", handle_calls_page, name="call_page")
    app.router.add_get("/api/calls", handle_calls, name="calls")
    app.router.add_get("/api/calls/{id}", handle_call, name="call")

    for install in route_installers:
        install(app)
        _check_unique_routes(app, install)

    async def start_router(_app: web.Application) -> None:
        await router.start()

    async def close_state(_app: web.Application) -> None:
        await router.aclose()
        await state.aclose()

    app.on_startup.append(start_router)
    app.on_cleanup.append(close_state)
    return app


def _install_ledger(app: web.Application, settings: Settings, metrics: WebMetrics) -> None:
    """The call ledger and LiveKit's webhooks feeding it; opened on start-up."""
    service = LedgerService(
        settings=settings.ledger, webhooks=settings.webhooks, observer=metrics.calls
    )
    hooks = LiveKitWebhooks(livekit=settings.livekit)
    subscribe_ledger(hooks, service)
    app[LEDGER_KEY] = service
    app[LIVEKIT_WEBHOOKS_KEY] = hooks

    async def open_ledger(_app: web.Application) -> None:
        await service.start()

    async def close_ledger(_app: web.Application) -> None:
        await service.aclose()

    app.on_startup.append(open_ledger)
    app.on_cleanup.append(close_ledger)


def _check_unique_routes(app: web.Application, installer: RouteInstaller) -> None:
    """aiohttp lets a second route shadow the first silently; refuse that at startup."""
    seen: set[tuple[str, str]] = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        key = (route.method, resource.canonical)
        if key in seen:
            name = getattr(installer, "__qualname__", repr(installer))
            raise ValueError(
                f"route installer {name}: {route.method} {resource.canonical} is already routed"
            )
        seen.add(key)
