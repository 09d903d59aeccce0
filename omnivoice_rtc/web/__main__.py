"""``python -m omnivoice_rtc.web [--host H] [--port P] [--routes module:function ...]``.

Serves the page, /api/token, /healthz and /metrics, plus the routes of every installer
registered in :data:`omnivoice_rtc.web.installers.route_installers`, named with
``--routes`` or listed (comma-separated) in ``OMNIVOICE_WEB_ROUTES``. Host and port
default to ``OMNIVOICE_WEB_HOST`` / ``OMNIVOICE_WEB_PORT`` (127.0.0.1:8080).
Exit status 2 on a configuration error (the message names the setting).

SIGTERM drains (a rolling restart, :mod:`omnivoice_rtc.web.drain`): ``/healthz`` answers
503, new calls are refused, live calls go on for up to ``OMNIVOICE_DRAIN_S`` s, then the
rest are hung up and the process exits 0. A second SIGTERM/SIGINT hangs up at once.
The process leaves without livekit rtc's exit-time teardown, which could abort it after
a finished drain (:mod:`omnivoice_rtc.livekit.process_exit`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.livekit.process_exit import exit_process
from omnivoice_rtc.logs import configure_logging
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.web.app import VENDOR_JS, create_app
from omnivoice_rtc.web.installers import route_installers
from omnivoice_rtc.web.server import serve

logger = logging.getLogger("omnivoice_rtc.web")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m omnivoice_rtc.web",
        description="omnivoice-rtc web server: browser page, /api/token, carrier routes.",
    )
    parser.add_argument("--host", help="bind address (default OMNIVOICE_WEB_HOST or 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="TCP port, 0 = any free one (default OMNIVOICE_WEB_PORT or 8080)"
    )
    parser.add_argument(
        "--routes",
        action="append",
        default=[],
        metavar="MODULE:FUNCTION",
        help="route installer to apply (repeatable); also OMNIVOICE_WEB_ROUTES=a:b,c:d",
    )
    parser.add_argument(
        "--log-level", default=None, help="logging level (default OMNIVOICE_LOG_LEVEL or info)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        if args.port is not None and not 0 <= args.port <= 65535:
            raise ConfigError(f"--port: must be between 0 and 65535, got {args.port}")
        settings = Settings.from_env()
        web_settings = dataclasses.replace(
            settings.web,
            host=settings.web.host if args.host is None else args.host,
            port=settings.web.port if args.port is None else args.port,
        )
        settings = dataclasses.replace(settings, web=web_settings)
        settings.require_safe("web")
        configure_logging(settings.log, level=args.log_level)
        route_installers.register_specs(settings.web.routes, setting="OMNIVOICE_WEB_ROUTES")
        route_installers.register_specs(args.routes, setting="--routes")
        app = create_app(settings, route_installers=route_installers.installers())
    except ConfigError as exc:
        print(f"omnivoice_rtc.web: {exc}", file=sys.stderr)
        return 2
    if not VENDOR_JS.is_file():
        logger.warning("livekit-client is not installed; run `make web-deps`")
    host, port = settings.web.host, settings.web.port
    logger.info("web server starting", extra={"host": host, "port": port})
    asyncio.run(serve(app, host=host, port=port))
    return 0


if __name__ == "__main__":
    exit_process(main())
