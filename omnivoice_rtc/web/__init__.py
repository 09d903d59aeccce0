"""The HTTP server: browser page, ``/api/token``, ``/healthz``, ``/metrics``.

Other parts of the project add their routes (carrier webhooks, media WebSockets)
through route installers; see :mod:`omnivoice_rtc.web.installers`.
"""

from omnivoice_rtc.web.app import STATIC_DIR, VENDOR_JS, create_app
from omnivoice_rtc.web.installers import (
    RouteInstaller,
    RouteInstallerRegistry,
    load_route_installer,
    route_installers,
)
from omnivoice_rtc.web.keys import METRICS_KEY, SETTINGS_KEY
from omnivoice_rtc.web.prometheus import WebMetrics
from omnivoice_rtc.web.server import WebServer

__all__ = [
    "METRICS_KEY",
    "SETTINGS_KEY",
    "STATIC_DIR",
    "VENDOR_JS",
    "RouteInstaller",
    "RouteInstallerRegistry",
    "WebMetrics",
    "WebServer",
    "create_app",
    "load_route_installer",
    "route_installers",
]
