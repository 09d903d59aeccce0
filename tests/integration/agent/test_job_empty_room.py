"""An agent dispatched into a room nobody comes to (typically a call that ended before the
agent joined: its join re-created the room) deletes that room when its join timeout ends,
instead of leaving it to livekit-server's departure timeout. Real livekit-server, real
agent worker."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import pytest
from livekit import api

from tests.plugins.agent_worker import AgentWorker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

JOB_DELETED = "job served nobody; deleting its empty room"


async def test_a_job_that_served_nobody_deletes_its_empty_room(
    agent_worker_factory: Callable[..., AgentWorker], livekit_api: api.LiveKitAPI
) -> None:
    worker = agent_worker_factory(env={"OMNIVOICE_JOIN_TIMEOUT_S": "3"})
    await asyncio.to_thread(worker.wait_warm)
    room = "call-empty-" + secrets.token_hex(4)
    await worker.dispatch(livekit_api, room)
    for _ in range(600):  # the job joins, waits 3 s for a participant, then ends
        if JOB_DELETED in worker.log_text():
            break
        await asyncio.sleep(0.1)  # reason: the job runs in the worker's process
    assert JOB_DELETED in worker.log_text(), worker.log_text()[-3000:]
    listed = [room]
    for _ in range(100):  # the delete follows the log line
        found = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=[room]))
        listed = [r.name for r in found.rooms]
        if not listed:
            break
        await asyncio.sleep(0.1)  # reason: the job's delete is in flight
    assert listed == []
