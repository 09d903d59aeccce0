"""Typed keys of the values every route handler and route installer can read from the app."""

from __future__ import annotations

from aiohttp import web

from ..settings import Settings
from .metrics import WebMetrics

__all__ = ["METRICS_KEY", "SETTINGS_KEY"]

SETTINGS_KEY = web.AppKey("omnivoice_settings", Settings)
"""The :class:`~omnivoice_rtc.settings.Settings` the app was created with."""
METRICS_KEY = web.AppKey("omnivoice_metrics", WebMetrics)
"""The app's :class:`~omnivoice_rtc.web.metrics.WebMetrics` (``.registry`` for your own)."""
