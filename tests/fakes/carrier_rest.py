"""A loopback fake of the carriers' REST APIs: a real aiohttp server on 127.0.0.1 that
records every request and answers with scripted responses.

Usage::

    async with CarrierRestFake() as fake:
        fake.respond("POST", "/v2/calls", 200, {"data": {"call_control_id": "v3:x"}})
        client = TelnyxRestClient(api_key="KEY", base_url=fake.base_url)
        ...
        request = fake.requests[0]   # method, path, headers, body bytes

Unscripted routes answer 404 ``{"message": "no such route in the fake"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

__all__ = ["CarrierRestFake", "RecordedRequest"]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the fake received it (headers keep their original names)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> list[tuple[str, str]]:
        """The body parsed as application/x-www-form-urlencoded, in order."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(slots=True)
class _Reply:
    status: int
    body: Any = None


@dataclass(slots=True)
class CarrierRestFake:
    """Records requests; ``respond`` scripts the reply for one method + path."""

    requests: list[RecordedRequest] = field(default_factory=list)
    _replies: dict[tuple[str, str], _Reply] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _base_url: str = ""

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("CarrierRestFake is not started")
        return self._base_url

    def respond(self, method: str, path: str, status: int, body: Any = None) -> None:
        self._replies[(method.upper(), path)] = _Reply(status, body)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.query_string,
                headers=dict(request.headers),
                body=body,
            )
        )
        reply = self._replies.get((request.method, request.path))
        if reply is None:
            return web.json_response({"message": "no such route in the fake"}, status=404)
        if reply.body is None:
            return web.Response(status=reply.status)
        return web.json_response(reply.body, status=reply.status)
