"""Fixtures for the web server's unit tests: the real app on aiohttp's test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from omnivoice_rtc.settings import LiveKitSettings, Settings, TokenSettings
from omnivoice_rtc.web import RouteInstaller, create_app

API_KEY = "unit-test-key"
API_SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
LIVEKIT_URL = "wss://livekit.example.test"

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]


def make_settings(*, token_key: str = "", agent_name: str = "omnivoice-agent") -> Settings:
    return Settings(
        livekit=LiveKitSettings(url=LIVEKIT_URL, api_key=API_KEY, api_secret=API_SECRET),
        tokens=TokenSettings(ttl_s=600, key=token_key, agent_name=agent_name),
    )


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[TestClient[web.Request, web.Application]] = []

    async def factory(
        settings: Settings | None = None, *, route_installers: Iterable[RouteInstaller] = ()
    ) -> TestClient[web.Request, web.Application]:
        app = create_app(settings or make_settings(), route_installers=route_installers)
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.close()
