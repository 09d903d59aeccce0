"""e2e, Twilio route of the "Done when" check: the same user module as the browser and SIP
tests (``tests.agents.pizza_shop:build``) answers a Twilio media-stream call.

A simulated Twilio (signed webhook, TwiML, the media WebSocket over TLS with the stream
token and one more ``<Parameter>``, ``customer_id``) calls the real shim; the worker runs
the user's module. The factory must see route ``twilio``, the caller and the dialled
number, the CallSid and the parameter (never the token); the agent greets as soon as the
stream starts and calls the user's tool when the caller asks to order. Prints stream
start -> first greeting audio at the carrier.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.shim.rtc_call_room import call_room_name
from omnivoice_rtc.types import AgentTranscript, EventType, ToolCall, UserTranscript
from tests.agents import pizza_shop
from tests.conftest import require_binary
from tests.e2e.media_streams.conftest import _self_signed
from tests.e2e.media_streams.helpers import EventLog, espeak, until, wait_for_session
from tests.fakes.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SENTENCE = "I would like to order a pizza"
ATTEMPTS = 3


@dataclass
class TwilioShim:
    base_url: str
    secrets: CarrierSecrets
    client_ssl: ssl.SSLContext
    gateway: MediaStreamGateway


@pytest.fixture(scope="module")
def user_agent_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    return agent_worker_factory(env={"OMNIVOICE_AGENT": "tests.agents.pizza_shop:build"})


@pytest.fixture
async def twilio_shim(
    livekit_server: LiveKitServer,
    user_agent_worker: AgentWorker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TwilioShim]:
    """The real shim over TLS with the Twilio profile, dispatching the user's agent."""
    cert, key = _self_signed(tmp_path_factory.mktemp("twilio-tls"))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    secrets_ = CarrierSecrets()
    runtime = ShimRuntime(
        livekit=lk, agent_name=user_agent_worker.agent_name, agent_join_timeout_s=90
    )
    gateway = MediaStreamGateway(
        profile=TwilioProfile(settings=TwilioSettings(auth_token=secrets_.twilio_auth_token)),
        runtime=runtime,
    )
    from omnivoice_rtc.web import create_app

    app = create_app(Settings(livekit=lk), route_installers=[carrier_route_installer([gateway])])
    runner, port = await serve_on_free_port(app, ssl_context=server_ssl)
    try:
        yield TwilioShim(
            base_url=f"https://127.0.0.1:{port}",
            secrets=secrets_,
            client_ssl=ssl.create_default_context(cafile=str(cert)),
            gateway=gateway,
        )
    finally:
        await runner.cleanup()


async def test_a_users_agent_answers_a_twilio_call(
    twilio_shim: TwilioShim, user_agent_worker: AgentWorker
) -> None:
    require_binary("espeak-ng")
    await asyncio.to_thread(user_agent_worker.wait_warm)  # a running worker, not a cold one
    speech = espeak(SENTENCE, rate_hz=8000)
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        target = sim.stream_target(markup)
        with_parameter = StreamTarget(
            url=target.url,
            parameters={**target.parameters, "customer_id": "c-88"},
            sample_rate=target.sample_rate,
        )
        await sim.open_stream(with_parameter)
        started = time.monotonic()
        print(f"stream started at {datetime.now(UTC).isoformat()}")
        sim.start_mic()
        while sim.received_seconds() == 0.0:  # non-silent agent audio at the carrier
            assert time.monotonic() - started < 90, "no greeting reached the carrier"
            await asyncio.sleep(0.02)
        greeted = time.monotonic()
        print(
            "greeting (twilio, e2e): stream start -> first greeting audio at the carrier "
            f"{greeted - started:.3f} s"
        )
        session = await wait_for_session(twilio_shim.gateway, sim.call_id)
        log = EventLog(session)
        try:
            _, greeting = await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=60)
            assert pizza_shop.GREETING.startswith(greeting.data_as(AgentTranscript).text)
            tool: ToolCall | None = None
            for _ in range(ATTEMPTS):
                said = await sim.say(speech, 8000)
                try:
                    _, event = await log.wait_for(EventType.TOOL_CALL, since=said, timeout_s=30)
                except TimeoutError:
                    continue
                tool = event.data_as(ToolCall)
                break
            heard = [e.data.text for _, e in log.events if isinstance(e.data, UserTranscript)]
            assert tool is not None, f"the tool was never called; heard {heard}"
            assert (tool.name, tool.result) == ("order", pizza_shop.TOOL_RESULT)
            # the call's session (observing the room) counts it and files it on the answer.
            # The answer may be cut short: when the caller's audio stalls on its way (the
            # shim shares this test's event loop), the VAD can split the sentence and its
            # tail barges in on the answer ("Your" + "Peace out.", seen once on a cold box)
            await log.wait_for(
                EventType.AGENT_TRANSCRIPT,
                where=lambda e: _says_tool_result(e.data_as(AgentTranscript)),
                since=said,
                timeout_s=60,
            )
            assert session.metrics().tool_call_count >= 1
            assert any(c.name == "order" for t in session.transcript() for c in t.tool_calls)
        finally:
            await log.aclose()
            await sim.hang_up()
        seen = json.loads(
            pizza_shop.report_path(call_room_name("twilio", sim.call_id)).read_text("utf-8")
        )
        assert seen == {
            "route": "twilio",
            "direction": "inbound",
            "caller": sim.caller,
            "callee": sim.callee,
            "carrier_call_id": sim.call_id,
            "room": call_room_name("twilio", sim.call_id),
            "participant_identity": f"pstn-twilio-{sim.call_id}",
            "parameters": {"customer_id": "c-88"},
            "resume_transcript": [],
        }
        await until(lambda: session.closed, timeout_s=30, what="session not closed")


def _says_tool_result(said: AgentTranscript) -> bool:
    return pizza_shop.says_tool_result(said.text, interrupted=said.interrupted)
