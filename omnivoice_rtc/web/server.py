"""Run the web application: :class:`WebServer` in-process (tests), :func:`serve` as the
process's main loop (``python -m omnivoice_rtc.web``: SIGTERM drains, see
:mod:`omnivoice_rtc.web.drain`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterable

from aiohttp import web

from omnivoice_rtc.settings import Settings
from omnivoice_rtc.web.app import create_app
from omnivoice_rtc.web.drain import DrainReport
from omnivoice_rtc.web.installers import RouteInstaller
from omnivoice_rtc.web.keys import DRAIN_KEY

__all__ = ["WebServer", "serve"]

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

    async def drain(self) -> DrainReport:
        """A rolling restart's first half (:mod:`omnivoice_rtc.web.drain`): health 503, no
        new calls, live calls waited for up to ``OMNIVOICE_DRAIN_S`` s, the rest hung up.
        :meth:`aclose` afterwards."""
        return await self.app[DRAIN_KEY].run()

    async def aclose(self) -> None:
        """Stop accepting, finish in-flight requests (up to 5 s), run cleanup hooks."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("web server stopped")


async def serve(app: web.Application, *, host: str, port: int) -> DrainReport:
    """Serve ``app`` on ``host:port`` until SIGTERM or SIGINT, then drain it (a second signal
    ends the live calls at once) and shut it down; returns what the drain did."""
    runner = web.AppRunner(
        app, shutdown_timeout=_SHUTDOWN_TIMEOUT_S, access_log=None, handle_signals=False
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    drain = app[DRAIN_KEY]

    def on_signal() -> None:
        if stop.is_set():
            drain.hurry()
        stop.set()

    try:
        await web.TCPSite(runner, host, port).start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        logger.info("web server listening", extra={"host": host, "port": port})
        await stop.wait()
        return await drain.run()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        logger.info("web server stopped")
