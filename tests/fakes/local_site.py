"""Serve an aiohttp app on a free loopback port (real sockets, optionally TLS)."""

from __future__ import annotations

import ssl

from aiohttp import web

__all__ = ["serve_on_free_port"]


async def serve_on_free_port(
    app: web.Application, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 at a port the OS picks; returns the runner (call its
    ``cleanup()``) and the port."""
    runner = web.AppRunner(app, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port: int = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # reason: aiohttp exposes the bound port only here
    return runner, port
