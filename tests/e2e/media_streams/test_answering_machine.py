"""Answering-machine detection on a carrier stream (Twilio): make_call dials over the
carrier's REST API (a loopback fake), the simulated callee's stream is a recorded
voicemail (greeting, then a beep) or a person saying "Hello?". The real agent worker
runs with OMNIVOICE_AMD=1 (local pipeline): a machine gets the voicemail message and the
call is hung up over REST; a person gets the outbound greeting."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import pytest

from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator
from omnivoice_rtc.types import AgentTranscript, Event, EventType
from tests.conftest import require_binary
from tests.e2e.answering_machine_audio import hello_pcm, voicemail_pcm
from tests.e2e.media_streams.helpers import EventLog, until
from tests.integration.shim.shim_app import (
    ACCOUNT_SID,
    App,
    session_for,
    sim_for,
    start_shim_app,
    stream_target,
)
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GREETING = "Hello, this is Acme calling about your order."
MESSAGE = "This is Acme. Please call us back about your order."
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"


@pytest.fixture(scope="module")
def amd_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    return agent_worker_factory(
        env={
            "OMNIVOICE_AMD": "1",
            "OMNIVOICE_GREETING_OUTBOUND": GREETING,
            "OMNIVOICE_AMD_VOICEMAIL_MESSAGE": MESSAGE,
        }
    )


@pytest.fixture
async def shim_app(livekit_server: LiveKitServer, amd_worker: AgentWorker) -> AsyncIterator[App]:
    """The shim with every carrier, its calls dispatched to the AMD worker."""
    apps = start_shim_app(livekit_server)
    assert isinstance(apps, AsyncGenerator)
    app = await anext(apps)
    runtime = dataclasses.replace(app.runtime, agent_name=amd_worker.agent_name)
    for gateway in app.gateways.values():
        gateway.runtime = runtime
    app.runtime = runtime
    try:
        yield app
    finally:
        await apps.aclose()


def _said(words: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e.data, AgentTranscript) and words in e.data.text.lower()


@contextlib.asynccontextmanager
async def _outbound_call(
    app: App, callee_pcm: bytes
) -> AsyncIterator[tuple[EventLog, str, CarrierSimulator]]:
    """Dial over REST, open the callee's stream, say ``callee_pcm`` once the agent runs."""
    call_id = "CA" + secrets.token_hex(16)
    app.rest.respond("POST", f"{CALLS}.json", 201, {"sid": call_id})
    app.rest.respond("POST", f"{CALLS}/{call_id}.json", 200, {"sid": call_id})
    session = await app.gateways["twilio"].make_call("+15551234")
    assert session.direction == "outbound"
    twiml = dict(app.rest.requests[-1].form())["Twiml"]
    async with sim_for(app, "twilio") as sim:
        sim.call_id = call_id
        token = sim.stream_target(twiml).parameters["token"]
        await sim.open_stream(stream_target(app, "twilio", token))
        sim.start_mic()
        bound = await session_for(app, "twilio", call_id)
        assert bound is session
        log = EventLog(bound)
        try:
            await log.wait_for(EventType.SESSION_STARTED, timeout_s=90)
            await asyncio.sleep(0.5)
            await sim.say(callee_pcm, 8000, wait=False)
            yield log, call_id, sim
        finally:
            await log.aclose()


async def test_a_voicemail_gets_the_message_then_the_call_is_hung_up_over_rest(
    shim_app: App, amd_worker: AgentWorker
) -> None:
    require_binary("espeak-ng")
    pcm = await asyncio.to_thread(voicemail_pcm, 8000)
    async with _outbound_call(shim_app, pcm) as (log, call_id, _sim):
        await log.wait_for(EventType.AGENT_TRANSCRIPT, where=_said("call us back"), timeout_s=120)
        hang_up = f"{CALLS}/{call_id}.json"

        def hung_up() -> bool:
            return any(r.path == hang_up for r in shim_app.rest.requests)

        await until(hung_up, timeout_s=60, what="the hang-up over REST")
        [request] = [r for r in shim_app.rest.requests if r.path == hang_up]
        assert request.method == "POST"
        assert request.form() == [("Status", "completed")]
        assert not any(_said("acme calling")(e) for _, e in log.events)
    text = amd_worker.log_text()
    assert "answering machine beep heard" in text
    assert '"category": "machine-vm"' in text
    assert re.search(r'"message": "ending the call"[^\n]*"reason": "voicemail"', text)


async def test_a_person_gets_the_outbound_greeting(shim_app: App, amd_worker: AgentWorker) -> None:
    require_binary("espeak-ng")
    pcm = await asyncio.to_thread(hello_pcm, 8000)
    async with _outbound_call(shim_app, pcm) as (log, _call_id, sim):
        await log.wait_for(EventType.AGENT_TRANSCRIPT, where=_said("acme calling"), timeout_s=120)
        assert not any(_said("call us back")(e) for _, e in log.events)
        await sim.hang_up()
    verdicts = re.findall(r'"answering machine detection verdict"[^\n]*', amd_worker.log_text())
    assert '"category": "human"' in verdicts[-1], verdicts
