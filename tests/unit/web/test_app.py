"""The web app: health, metrics, page and static files, route installers."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import web

from omnivoice_rtc.web import METRICS_KEY, SETTINGS_KEY, STATIC_DIR, RouteInstallerRegistry
from omnivoice_rtc.web.installers import load_route_installer
from omnivoice_rtc.web.keys import DRAIN_KEY

from .conftest import ClientFactory, make_settings

pytestmark = pytest.mark.unit


async def test_healthz(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["agent_name"] == "omnivoice-agent"
    assert isinstance(body["page_assets"], bool)
    assert body["live_calls"] == 0


async def test_healthz_answers_503_once_the_process_drains(make_client: ClientFactory) -> None:
    client = await make_client()
    client.app[DRAIN_KEY].begin()
    response = await client.get("/healthz")
    assert response.status == 503
    assert (await response.json())["status"] == "draining"


async def test_metrics_counts_requests_and_tokens(make_client: ClientFactory) -> None:
    client = await make_client(make_settings(token_key="k"))
    assert (await client.post("/api/token", headers={"X-Omnivoice-Key": "k"})).status == 200
    assert (await client.post("/api/token")).status == 401
    assert (await client.get("/no/such/path")).status == 404
    # With a key set, /metrics is protected like /api/token.
    assert (await client.get("/metrics")).status == 401
    response = await client.get("/metrics", headers={"Authorization": "Bearer k"})
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    assert "omnivoice_tokens_issued_total 1.0" in text
    assert 'omnivoice_tokens_refused_total{reason="unauthorized"} 1.0' in text
    assert 'omnivoice_token_requests_total{outcome="issued"} 1.0' in text
    assert 'omnivoice_token_requests_total{outcome="unauthorized"} 1.0' in text
    assert (
        'omnivoice_http_requests_total{method="POST",route="/api/token",status="401"} 1.0' in text
    )
    # Unknown paths share one label (no label per attacker-chosen path).
    assert 'route="unmatched",status="404"' in text
    assert "/no/such/path" not in text
    assert "process_cpu_seconds_total" in text


async def test_two_apps_do_not_share_metrics(make_client: ClientFactory) -> None:
    first = await make_client()
    second = await make_client()
    await first.post("/api/token")
    text = await (await second.get("/metrics")).text()
    assert "omnivoice_tokens_issued_total 0.0" in text


async def test_page_and_static_files(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert '<script src="/static/vendor/livekit-client.umd.js"></script>' in html
    assert '<script src="/static/app.js"></script>' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("app.js", "style.css"):
        static = await client.get(f"/static/{name}")
        assert static.status == 200
        assert await static.read() == (STATIC_DIR / name).read_bytes()


async def test_static_does_not_escape_its_directory(make_client: ClientFactory) -> None:
    client = await make_client()
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        response = await client.get(path)
        assert response.status in (403, 404)
        assert b"create_app" not in await response.read()


def _install_echo(app: web.Application) -> None:
    async def echo(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS_KEY]
        return web.json_response({"agent": settings.agent_name})

    app.router.add_post("/twilio/answer", echo)
    app[METRICS_KEY].tokens_issued.inc(0)  # installers may reach the metrics registry


async def test_route_installers_add_routes_with_access_to_settings(
    make_client: ClientFactory,
) -> None:
    client = await make_client(route_installers=[_install_echo])
    response = await client.post("/twilio/answer")
    assert response.status == 200
    assert await response.json() == {"agent": "omnivoice-agent"}
    text = await (await client.get("/metrics")).text()
    assert 'route="/twilio/answer"' in text


async def test_route_installer_conflict_fails_at_startup() -> None:
    def steal_token_route(app: web.Application) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response()

        app.router.add_get("/api/token", handler)

    from omnivoice_rtc.web import create_app

    with pytest.raises(ValueError, match="GET /api/token is already routed"):
        create_app(make_settings(), route_installers=[steal_token_route])


def test_registry_rules() -> None:
    registry = RouteInstallerRegistry()
    registry.register("echo", _install_echo)
    assert registry.names() == ("echo",)
    assert registry.installers() == (_install_echo,)
    with pytest.raises(ValueError, match="'echo' is already registered"):
        registry.register("echo", _install_echo)
    with pytest.raises(ValueError, match="must not be empty"):
        registry.register(" ", _install_echo)
    registry.register_specs(["tests.unit.web.test_app:_install_echo"])
    assert "tests.unit.web.test_app:_install_echo" in registry
    assert len(registry) == 2
    registry.unregister("echo")
    assert registry.names() == ("tests.unit.web.test_app:_install_echo",)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "--routes: expected 'package.module:function', got 'no_colon'"),
        ("no.such.module:f", "--routes: cannot import module 'no.such.module'"),
        ("tests.unit.web.test_app:missing", "has no callable 'missing'"),
        ("tests.unit.web.conftest:API_KEY", "has no callable 'API_KEY'"),
    ],
)
def test_load_route_installer_errors(spec: str, message: str) -> None:
    from omnivoice_rtc import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        load_route_installer(spec)


def _install_ws_echo(app: web.Application) -> None:
    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            await socket.send_str(f"echo:{message.data}")
        return socket

    app.router.add_get("/media/ws", echo)


async def test_route_installers_can_add_websockets(make_client: ClientFactory) -> None:
    client = await make_client(route_installers=[_install_ws_echo])
    socket = await client.ws_connect("/media/ws")
    await socket.send_str("frame")
    assert await socket.receive_str() == "echo:frame"
    await socket.close()
    # The server counts the request when its handler returns, just after the close
    # handshake the client waited for: poll (bounded) instead of racing it.
    counted = 'omnivoice_http_requests_total{method="GET",route="/media/ws",status="101"} 1.0'
    text = ""
    for _ in range(200):
        text = await (await client.get("/metrics")).text()
        if counted in text:
            break
        await asyncio.sleep(0.01)
    assert counted in text
    assert 'omnivoice_http_request_duration_seconds_count{route="/media/ws"}' not in text
