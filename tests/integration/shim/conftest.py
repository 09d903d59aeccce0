"""Fixtures of the shim integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.shim.shim_app import App, start_shim_app
from tests.plugins.livekit_stack import LiveKitServer


@pytest.fixture
async def shim_app(livekit_server: LiveKitServer) -> AsyncIterator[App]:
    """The shim's web app with all four carriers, on a free port, for one test."""
    async for app in start_shim_app(livekit_server):
        yield app
