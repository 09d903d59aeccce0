"""WebServer (in-process run) and the ``python -m omnivoice_rtc.web`` entry point."""

from __future__ import annotations

import aiohttp
import pytest

from omnivoice_rtc.web import WebServer
from omnivoice_rtc.web.__main__ import main

from .conftest import make_settings

pytestmark = pytest.mark.unit


async def test_web_server_binds_a_free_port_and_stops() -> None:
    server = WebServer(settings=make_settings(), host="127.0.0.1", port=0)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    await server.start()
    try:
        assert server.port > 0
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
    finally:
        await server.aclose()
    await server.aclose()  # idempotent
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"http://127.0.0.1:{server.port}/healthz")


def test_main_rejects_bad_route_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--routes", "not-a-spec"]) == 2
    err = capsys.readouterr().err
    assert "--routes: expected 'package.module:function', got 'not-a-spec'" in err


def test_main_rejects_bad_env(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNIVOICE_TOKEN_TTL_S", "forever")
    assert main(["--port", "0"]) == 2
    assert "OMNIVOICE_TOKEN_TTL_S" in capsys.readouterr().err
