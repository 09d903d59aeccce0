"""A rolling restart of a real web process (``python -m omnivoice_rtc.web``, carrier routes
from the environment, a real livekit-server and agent worker): on SIGTERM ``/healthz``
answers 503 and new calls are refused, a live call that ends by itself ends as usual (no
hang-up from us), a call still live at ``OMNIVOICE_DRAIN_S`` is hung up over the carrier's
REST API and its socket closed normally; the process exits 0 and the ledger records why
each call ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator
from omnivoice_rtc.simulate.carrier_webhooks import CarrierSecrets
from omnivoice_rtc.web.drain import DRAIN_REASON
from tests.e2e.ledger_checks import wait_for_record
from tests.fakes.carrier_rest import CarrierRestFake
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.cluster import ACCOUNT_IDS, WebProcess, carrier_env, open_carrier_call
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

DRAIN_S = 8
_CLOSE_NORMAL = 1000


@pytest.fixture
async def rest() -> AsyncIterator[CarrierRestFake]:
    fake = CarrierRestFake()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.aclose()


async def _live_call(web: WebProcess, secrets: CarrierSecrets) -> CarrierSimulator:
    sim, status, markup = await open_carrier_call("twilio", web.url, secrets)
    assert status == 200, markup
    return sim


async def _until_live_calls(web: WebProcess, count: int) -> dict[str, object]:
    for _ in range(600):
        _, body = await web.healthz()
        if body["live_calls"] == count:
            return body
        await asyncio.sleep(0.1)  # reason: the calls are bridged by another process
    raise AssertionError(f"the web process never had {count} live calls")


def _hangups(rest: CarrierRestFake, call_id: str) -> int:
    path = f"/2010-04-01/Accounts/{ACCOUNT_IDS.twilio}/Calls/{call_id}.json"
    return sum(r.method == "POST" and r.path == path for r in rest.requests)


async def test_sigterm_drains_live_calls_then_hangs_up_the_rest(
    livekit_server: LiveKitServer, agent_worker: AgentWorker, rest: CarrierRestFake, tmp_path: Path
) -> None:
    secrets = CarrierSecrets()
    web = WebProcess(
        env={
            **livekit_server.env(),
            **carrier_env(secrets, rest.base_url),
            "OMNIVOICE_AGENT_NAME": agent_worker.agent_name,
            "OMNIVOICE_DATABASE_URL": agent_worker.ledger_url,
            "OMNIVOICE_LEDGER_REPORT_WAIT_S": "5",
            "OMNIVOICE_DRAIN_S": str(DRAIN_S),
            "OMNIVOICE_LOG_FORMAT": "json",
        },
        log_file=tmp_path / "web.log",
    )
    await web.start()
    ends_itself: CarrierSimulator | None = None
    outlives: CarrierSimulator | None = None
    try:
        ends_itself = await _live_call(web, secrets)
        outlives = await _live_call(web, secrets)
        rest.respond(
            "POST",
            f"/2010-04-01/Accounts/{ACCOUNT_IDS.twilio}/Calls/{outlives.call_id}.json",
            200,
            {"sid": outlives.call_id},
        )
        await _until_live_calls(web, 2)

        web.terminate()
        status, body = await web.healthz()
        for _ in range(50):
            if status == 503:
                break
            await asyncio.sleep(0.1)  # reason: the signal is handled by another process
            status, body = await web.healthz()
        assert (status, body["status"]) == (503, "draining"), body
        late, status, text = await open_carrier_call("twilio", web.url, secrets)
        await late.__aexit__(None, None, None)
        assert (status, text) == (503, "draining")

        await ends_itself.hang_up()  # the caller ends one call during the drain
        body = await _until_live_calls(web, 1)
        assert body["status"] == "draining"
        assert outlives.close_code is None  # the other call goes on

        assert await web.wait(timeout_s=DRAIN_S + 30) == 0, web.log_text()[-3000:]
        assert await outlives.wait_closed(timeout_s=10) == _CLOSE_NORMAL
        assert _hangups(rest, outlives.call_id) == 1
        assert _hangups(rest, ends_itself.call_id) == 0
        [drained] = web.log_records("drained")
        assert (drained["live_at_start"], drained["ended_at_deadline"]) == (2, 1), drained

        cut = await wait_for_record(agent_worker.ledger_url, outlives.call_id, timeout_s=60)
        assert cut.end_reason == DRAIN_REASON, cut
        done = await wait_for_record(agent_worker.ledger_url, ends_itself.call_id, timeout_s=60)
        assert done.end_reason != DRAIN_REASON, done
    finally:
        for sim in (ends_itself, outlives):
            if sim is not None:
                await sim.__aexit__(None, None, None)
        web.kill()
