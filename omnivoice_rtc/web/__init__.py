"""The HTTP server: browser page, ``/api/token``, ``/healthz``, ``/metrics``.

Other parts of the project add their routes (carrier webhooks, media WebSockets)
through route installers; see :mod:`omnivoice_rtc.web.routes`.
"""

from .app import STATIC_DIR, VENDOR_JS, create_app
from .keys import METRICS_KEY, SETTINGS_KEY
from .metrics import WebMetrics
from .routes import RouteInstaller, RouteInstallerRegistry, load_route_installer, route_installers
from .server import WebServer

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
