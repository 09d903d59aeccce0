"""The agent dies mid-call (its worker is killed): the turns it wrote as they happened
stay, LiveKit's webhooks close the record when the caller leaves, and the sweeper
finalizes it without the agent's report, metrics rebuilt from the turns."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from livekit import api, rtc

from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, encode_control
from omnivoice_rtc.livekit.tokens import generate_client_token
from omnivoice_rtc.settings import LedgerSettings, LiveKitSettings, Settings
from omnivoice_rtc.web import WebServer
from omnivoice_rtc.web.keys import LEDGER_KEY
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_record_is_complete_when_the_agent_dies(
    livekit_server: LiveKitServer,
    livekit_api: api.LiveKitAPI,
    agent_worker_factory: Callable[..., AgentWorker],
    tmp_path: Path,
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'calls.db'}"
    worker = agent_worker_factory(env={"OMNIVOICE_DATABASE_URL": ledger_url})
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    settings = Settings(
        livekit=lk, ledger=LedgerSettings(database_url=ledger_url, report_wait_s=5.0)
    )
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    room_name, identity = f"web-{uuid.uuid4().hex[:10]}", "visitor-dies"
    call_id = call_key(room_name, identity)
    room = rtc.Room()
    assert livekit_server.webhooks is not None
    try:
        with livekit_server.webhooks.forward_to(f"{server.url}/livekit/webhook"):
            ledger = server.app[LEDGER_KEY].ledger
            assert ledger is not None
            token = generate_client_token(
                room_name, identity, "Ann", credentials=lk, agent_name=worker.agent_name
            )
            await room.connect(livekit_server.url, token)
            deadline = time.monotonic() + 120
            record = await get_call(ledger, call_id)
            asked = 0.0
            while time.monotonic() < deadline:
                if record is not None and record.agent_identity and time.monotonic() - asked > 15:
                    command = encode_control(ControlCommand(type="say", text="what is the weather"))
                    await room.local_participant.publish_data(
                        command, reliable=True, topic=CONTROL_TOPIC
                    )
                    asked = time.monotonic()
                if record is not None and {t.role for t in record.turns} == {"user", "agent"}:
                    break
                await asyncio.sleep(0.5)  # reason: the agent worker writes the record
                record = await get_call(ledger, call_id)
            assert record is not None, worker.log_text()[-3000:]
            assert {t.role for t in record.turns} == {"user", "agent"}, worker.log_text()[-3000:]
            os.killpg(worker.process.pid, signal.SIGKILL)  # the agent dies: no final report
            worker.process.wait(timeout=10)
            await room.disconnect()  # then the caller hangs up
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and (record is None or record.status != "final"):
                await asyncio.sleep(0.5)  # reason: the sweeper finalizes after the wait
                record = await get_call(ledger, call_id)
    finally:
        await room.disconnect()
        await server.aclose()
    assert record is not None
    assert record.status == "final", record
    assert not record.agent_reported
    assert record.end_reason in ("participant_left", "room_finished"), record
    assert record.metrics["turn_count"] == len(record.turns) >= 2
    assert record.metrics["session_duration_ms"] > 0
    assert record.agent_identity
