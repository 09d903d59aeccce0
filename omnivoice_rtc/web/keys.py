"""Typed keys of the values every route handler and route installer can read from the app."""

from __future__ import annotations

from aiohttp import web

from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.livekit.webhooks import LiveKitWebhooks
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.state.call_routing import CallRouter
from omnivoice_rtc.state.store import StateStore
from omnivoice_rtc.web.drain import Drain
from omnivoice_rtc.web.prometheus import WebMetrics

__all__ = [
    "CALL_ROUTER_KEY",
    "DRAIN_KEY",
    "LEDGER_KEY",
    "LIVEKIT_WEBHOOKS_KEY",
    "METRICS_KEY",
    "SETTINGS_KEY",
    "STATE_KEY",
]

SETTINGS_KEY = web.AppKey("omnivoice_settings", Settings)
"""The :class:`~omnivoice_rtc.settings.Settings` the app was created with."""
METRICS_KEY = web.AppKey("omnivoice_metrics", WebMetrics)
"""The app's :class:`~omnivoice_rtc.web.prometheus.WebMetrics` (``.registry`` for your own)."""
LEDGER_KEY = web.AppKey("omnivoice_ledger", LedgerService)
"""The app's call ledger (:class:`~omnivoice_rtc.ledger.service.LedgerService`); its
``ledger`` is None until start-up, and when ``OMNIVOICE_DATABASE_URL=off``."""
LIVEKIT_WEBHOOKS_KEY = web.AppKey("omnivoice_livekit_webhooks", LiveKitWebhooks)
"""LiveKit's webhooks received at ``/livekit/webhook``: ``.subscribe(event, handler)``."""
STATE_KEY = web.AppKey("omnivoice_state", StateStore)
"""The app's shared :class:`~omnivoice_rtc.state.StateStore` (memory, or Redis with
``OMNIVOICE_REDIS_URL``): rate limits, and the carrier routes' tokens and replay records.
Closed on app cleanup."""
DRAIN_KEY = web.AppKey("omnivoice_drain", Drain)
"""The process's :class:`~omnivoice_rtc.web.drain.Drain` (rolling restarts): call routes
join it with ``track``; ``/healthz`` answers 503 while it drains."""
CALL_ROUTER_KEY = web.AppKey("omnivoice_call_router", CallRouter)
"""Call-control actions to the replica serving the call, from any replica
(:mod:`omnivoice_rtc.state.call_routing`): ``handle(route, handler)``, ``dispatch(...)``."""
