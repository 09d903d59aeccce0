"""Fixtures of the shim integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.shim.shim_app import App, start_shim_app
from tests.plugins.livekit_stack import LiveKitServer


@pytest.fixture(params=["rtc", "native"])
async def shim_app(
    livekit_server: LiveKitServer, request: pytest.FixtureRequest
) -> AsyncIterator[App]:
    """The shim's web app with all four carriers, on a free port, for one test; once with
    call rooms joined by livekit rtc in this process, once by the omnivoice-media process."""
    async for app in start_shim_app(livekit_server, native=request.param == "native"):
        yield app
