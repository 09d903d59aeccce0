"""A webhook receiver for the tests: a real aiohttp server on loopback that verifies every
delivery with the library's helper and can be told to fail or hang first."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.webhooks import ID_HEADER, verify_webhook
from tests.fakes.local_site import serve_on_free_port

__all__ = ["WebhookReceiver"]


@dataclass(slots=True)
class Delivery:
    event_id: str
    event: dict[str, Any]
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """``accepted``: verified deliveries answered 200; ``seen``: every request."""

    secret: str
    fail_first: int = 0
    """Answer 503 to this many requests first."""
    hang_first: int = 0
    """Never answer this many requests first (until the sender gives up)."""
    hold: bool = False
    """Hold every request until :meth:`release`, then answer it 503 (never accepted):
    deliveries stay in flight, as when the sending server is stopped mid-delivery."""
    held: list[tuple[str, str]] = field(default_factory=list)
    """(event type, data id) of every request that arrived while held."""
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: list[Delivery] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    rejected: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner, port = await serve_on_free_port(app)
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def ids(self, event_type: str) -> list[str]:
        return [d.event_id for d in self.accepted if d.event["type"] == event_type]

    async def wait_for(self, predicate: Any, timeout_s: float = 30.0) -> None:
        async def wait() -> None:
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout_s)

    def release(self) -> None:
        self.hold = False
        self._released.set()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(request.headers.get(ID_HEADER, ""))
        self.changed.set()
        if self.hold:
            event = json.loads(body)
            self.held.append((event["type"], event["data"].get("id", "")))
            self.changed.set()
            await self._released.wait()
            return web.Response(status=503)
        if self.hang_first > 0:
            self.hang_first -= 1
            await asyncio.sleep(3600)
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.Response(status=503)
        try:
            event = verify_webhook(body, request.headers, secret=self.secret)
        except SignatureError:
            self.rejected += 1
            return web.Response(status=401)
        self.accepted.append(Delivery(request.headers[ID_HEADER], event, dict(request.headers)))
        self.changed.set()
        return web.Response(status=200)
