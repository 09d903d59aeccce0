"""Two real web processes sharing one real redis-server (``OMNIVOICE_REDIS_URL``), a real
livekit-server and agent worker: a carrier's answer webhook answered by one replica has
its media stream accepted (bridged) by the other; the same webhook replayed to the other
replica is refused; a call dialled by one replica (``POST /api/calls``) streams to the
other, which bridges it with the agent the dial asked for, and the dialling replica
reports it answered."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl

import aiohttp
import pytest

from omnivoice_rtc.simulate.carrier_webhooks import CarrierSecrets, new_call_id
from tests.fakes.carrier_rest import CarrierRestFake
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.cluster import (
    ACCOUNT_IDS,
    WebProcess,
    carrier_env,
    carrier_simulator,
    open_carrier_call,
    open_stream_at,
)
from tests.plugins.livekit_stack import LiveKitServer
from tests.plugins.redis_server import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CALLS_ROUTES = (
    "omnivoice_rtc.shim.install:install_from_env,omnivoice_rtc.web.calls_api:install_calls_api"
)
TOKEN_KEY = "replica-test-key"


@pytest.fixture
async def rest() -> AsyncIterator[CarrierRestFake]:
    fake = CarrierRestFake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.aclose()


@pytest.fixture
async def replicas(
    livekit_server: LiveKitServer,
    agent_worker: AgentWorker,
    redis_server: RedisServer,
    rest: CarrierRestFake,
    tmp_path: Path,
) -> AsyncIterator[tuple[WebProcess, WebProcess, CarrierSecrets]]:
    secrets = CarrierSecrets()
    env = {
        **livekit_server.env(),
        **carrier_env(secrets, rest.base_url),
        "OMNIVOICE_AGENT_NAME": agent_worker.agent_name,
        "OMNIVOICE_DATABASE_URL": agent_worker.ledger_url,
        "OMNIVOICE_REDIS_URL": f"redis://127.0.0.1:{redis_server.port}/{_fresh_db()}",
        "OMNIVOICE_WEB_ROUTES": CALLS_ROUTES,
        "OMNIVOICE_TOKEN_KEY": TOKEN_KEY,
        "OMNIVOICE_OUTBOUND_ALLOW": "+1555",
    }
    webs = [
        WebProcess(env={**env, "OMNIVOICE_REPLICA_ID": name}, log_file=tmp_path / f"{name}.log")
        for name in ("replica-a", "replica-b")
    ]
    try:
        await asyncio.gather(*(w.start() for w in webs))
        yield webs[0], webs[1], secrets
    finally:
        for web in webs:
            web.kill()


_DB = iter(range(1, 16))


def _fresh_db() -> int:
    """A Redis database of its own per test (the session's server is shared)."""
    return next(_DB)


async def _live_calls(web: WebProcess) -> int:
    _, body = await web.healthz()
    live = body["live_calls"]
    assert isinstance(live, int)
    return live


async def _until(web: WebProcess, live: int) -> None:
    for _ in range(600):
        if await _live_calls(web) == live:
            return
        await asyncio.sleep(0.1)  # reason: the call is bridged by another process
    raise AssertionError(f"{web.url} never had {live} live calls:\n{web.log_text()[-2000:]}")


async def test_answered_on_one_replica_streamed_on_the_other_replay_refused(
    replicas: tuple[WebProcess, WebProcess, CarrierSecrets],
) -> None:
    a, b, secrets = replicas
    sim, status, markup = await open_carrier_call("twilio", a.url, secrets, stream_base_url=b.url)
    try:
        assert status == 200, markup
        await _until(b, 1)
        assert await _live_calls(a) == 0
        replay = carrier_simulator("twilio", b.url, secrets, call_id=sim.call_id)
        async with replay:
            assert await replay.post_answer_webhook() == (409, "call already answered")
        assert sim.close_code is None  # the live call goes on
        assert await _live_calls(b) == 1
    finally:
        await sim.hang_up()
        await sim.__aexit__(None, None, None)
    await _until(b, 0)


async def test_a_call_dialled_by_one_replica_streams_to_the_other(
    replicas: tuple[WebProcess, WebProcess, CarrierSecrets],
    rest: CarrierRestFake,
    agent_worker: AgentWorker,
) -> None:
    a, b, secrets = replicas
    call_sid = new_call_id("twilio")
    rest.respond(
        "POST", f"/2010-04-01/Accounts/{ACCOUNT_IDS.twilio}/Calls.json", 201, {"sid": call_sid}
    )
    body = {"to": "+15550100777", "via": "twilio", "agent_name": agent_worker.agent_name}
    headers = {"Authorization": f"Bearer {TOKEN_KEY}"}
    async with aiohttp.ClientSession() as http:
        placing = asyncio.ensure_future(http.post(f"{a.url}/api/calls", json=body, headers=headers))
        for _ in range(300):
            dials = [r for r in rest.requests if r.path.endswith("/Calls.json")]
            if dials:
                break
            await asyncio.sleep(0.1)  # reason: the dial is made by another process
        [dial] = dials
        twiml = dict(parse_qsl(dial.body.decode()))["Twiml"]
        callee = carrier_simulator("twilio", b.url, secrets, call_id=call_sid)
        await callee.__aenter__()
        try:
            await open_stream_at(callee, twiml, b.url)  # the carrier's stream reaches B
            await _until(b, 1)
            response = await asyncio.wait_for(placing, 60)
            result = json.loads(await response.text())
            assert response.status == 200, result
            assert (result["outcome"], result["call_id"]) == ("answered", call_sid)
            assert await _live_calls(a) == 0
            # no REST hang-up of an answered call
            assert not any(r.path.endswith(f"/Calls/{call_sid}.json") for r in rest.requests)
        finally:
            await callee.hang_up()
            await callee.__aexit__(None, None, None)
    await _until(b, 0)
