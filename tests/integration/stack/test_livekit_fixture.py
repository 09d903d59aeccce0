"""The shared ``livekit_server`` fixture gives a real server that checks API keys."""

from __future__ import annotations

import pytest
from livekit import api

from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration


async def test_server_accepts_its_key(livekit_api: api.LiveKitAPI) -> None:
    response = await livekit_api.room.list_rooms(api.ListRoomsRequest())
    assert list(response.rooms) == [] or all(room.name for room in response.rooms)


async def test_server_refuses_another_secret(livekit_server: LiveKitServer) -> None:
    client = api.LiveKitAPI(
        url=livekit_server.http_url,
        api_key=livekit_server.api_key,
        api_secret="not-the-secret-" + "x" * 32,
    )
    try:
        with pytest.raises(api.TwirpError) as caught:
            await client.room.list_rooms(api.ListRoomsRequest())
    finally:
        await client.aclose()
    assert caught.value.status == 401


def test_server_urls_point_at_loopback(livekit_server: LiveKitServer) -> None:
    assert livekit_server.url.startswith("ws://127.0.0.1:")
    assert livekit_server.http_url == livekit_server.url.replace("ws://", "http://", 1)
    assert livekit_server.env()["LIVEKIT_URL"] == livekit_server.url
