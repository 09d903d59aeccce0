"""Run the web application on a host/port, in-process (tests, the dev supervisor)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web

from omnivoice_rtc.settings import Settings
from omnivoice_rtc.web.app import create_app
from omnivoice_rtc.web.installers import RouteInstaller

__all__ = ["WebServer"]

logger = logging.getLogger(__name__)

_SHUTDOWN_TIMEOUT_S = 5.0


class WebServer:
    """One running web application; ``await start()``, then ``await aclose()``.

    ``port=0`` binds a free port; :attr:`port` and :attr:`url` tell which after start.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        host: str | None = None,
        port: int | None = None,
        route_installers: Iterable[RouteInstaller] = (),
    ) -> None:
        self._settings = settings
        self._host = settings.web.host if host is None else host
        self._requested_port = settings.web.port if port is None else port
        self._installers = tuple(route_installers)
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("WebServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (loopback when bound to all interfaces)."""
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def app(self) -> web.Application:
        if self._runner is None:
            raise RuntimeError("WebServer is not started")
        return self._runner.app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("WebServer already started")
        app = create_app(self._settings, route_installers=self._installers)
        runner = web.AppRunner(app, shutdown_timeout=_SHUTDOWN_TIMEOUT_S, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses  # (host, port, ...) of every bound socket
        self._port = int(addresses[0][1]) if addresses else self._requested_port
        logger.info("web server listening", extra={"url": self.url})

    async def aclose(self) -> None:
        """Stop accepting, finish in-flight requests (up to 5 s), run cleanup hooks."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("web server stopped")
