"""A real livekit-server's webhooks reach the web server, which opens and closes the
record of a call no agent ever served (every call accounted for), and the finalized
record is announced with a signed ``call.ended``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit import api, rtc

from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.livekit.tokens import generate_client_token
from omnivoice_rtc.settings import LedgerSettings, LiveKitSettings, Settings, WebhookSettings
from omnivoice_rtc.web import WebServer
from omnivoice_rtc.web.keys import LEDGER_KEY
from tests.integration.webhooks.receiver import WebhookReceiver
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration

SECRET = "whsec-livekit-test"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = await WebhookReceiver(secret=SECRET).start()
    try:
        yield receiver
    finally:
        await receiver.aclose()


async def test_a_call_nobody_answered_is_recorded_and_closed(
    livekit_server: LiveKitServer,
    livekit_api: api.LiveKitAPI,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    settings = Settings(
        livekit=lk,
        ledger=LedgerSettings(database_url=f"sqlite:///{tmp_path / 'calls.db'}", report_wait_s=1.0),
        webhooks=WebhookSettings(urls=(receiver.url,), secrets=(SECRET,), backoff_s=0.1),
    )
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    room_name = f"web-{uuid.uuid4().hex[:10]}"
    assert livekit_server.webhooks is not None
    try:
        with livekit_server.webhooks.forward_to(f"{server.url}/livekit/webhook"):
            token = generate_client_token(
                room_name, "visitor-lk", "Ann", credentials=lk, agent_name=None
            )
            room = rtc.Room()
            await room.connect(livekit_server.url, token)
            service = server.app[LEDGER_KEY]
            assert service.ledger is not None
            call_id = call_key(room_name, "visitor-lk")
            deadline = time.monotonic() + 30
            opened = await get_call(service.ledger, call_id)
            while opened is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)  # reason: the record is written by another task
                opened = await get_call(service.ledger, call_id)
            assert opened is not None, "participant_joined never opened the record"
            assert opened.status == "active"
            assert opened.room_sid.startswith("RM_")
            await receiver.wait_for(lambda: receiver.ids("call.started"))
            await room.disconnect()
            await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room_name))
            await receiver.wait_for(lambda: receiver.ids("call.ended"), timeout_s=60)
            record = await get_call(service.ledger, call_id)
    finally:
        await server.aclose()
    assert record is not None
    assert record.status == "final"
    assert record.end_reason in ("participant_left", "room_finished")
    assert "livekit_webhook" in record.sources
    [ended] = [d.event for d in receiver.accepted if d.event["type"] == "call.ended"]
    assert ended["data"]["id"] == call_id
    assert len(receiver.ids("call.started")) == 1
