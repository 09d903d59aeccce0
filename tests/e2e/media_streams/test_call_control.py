"""e2e, call control as LLM tools on a carrier route: a user's factory
(``tests.agents.call_desk``) gives the agent the ready-made call-control tools; a
simulated Twilio calls the real shim, the caller asks to be transferred to support, the
offline pipeline's rule calls ``transfer_call`` and the agent says its transfer line. The
tool's request travels over the room (``omnivoice.call_control``) to the shim that owns
the call, which updates the call at Twilio's REST API (a loopback fake asserting the
exact request: TwiML ``<Dial>`` to support) and ends the session as ``transferred``
without a REST hang-up. The operator CLI then keys, holds and hangs up another call."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from omnivoice_rtc.agent.call_tools import DEFAULT_GOODBYE, _reason
from omnivoice_rtc.audio.dtmf import detect_dtmf
from omnivoice_rtc.calls.control import DEFAULT_TRANSFER_LINE
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.cli import main
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.types import AgentTranscript, EventType, ToolCall, UserTranscript
from tests.agents import call_desk
from tests.conftest import require_binary
from tests.e2e.hold_audio_checks import heard_hold_chime
from tests.e2e.media_streams.conftest import _self_signed
from tests.e2e.media_streams.helpers import EventLog, espeak, until, wait_for_session
from tests.fakes.carrier_rest import CarrierRestFake
from tests.fakes.carrier_simulator import CarrierSecrets, CarrierSimulator
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SENTENCE = "Transfer this phone call to support"
ATTEMPTS = 3
ACCOUNT = "AC0e2e"


@dataclass
class TwilioShim:
    base_url: str
    secrets: CarrierSecrets
    client_ssl: ssl.SSLContext
    gateway: MediaStreamGateway
    rest: CarrierRestFake


@pytest.fixture(scope="module")
def desk_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    return agent_worker_factory(env={"OMNIVOICE_AGENT": "tests.agents.call_desk:build"})


@pytest.fixture
async def twilio_shim(
    livekit_server: LiveKitServer,
    desk_worker: AgentWorker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TwilioShim]:
    cert, key = _self_signed(tmp_path_factory.mktemp("twilio-tls"))
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ssl.load_cert_chain(cert, key)
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    secrets_ = CarrierSecrets()
    async with CarrierRestFake() as rest:
        settings = TwilioSettings(
            auth_token=secrets_.twilio_auth_token, account_sid=ACCOUNT, api_base_url=rest.base_url
        )
        runtime = ShimRuntime(
            livekit=lk, agent_name=desk_worker.agent_name, agent_join_timeout_s=90
        )
        gateway = MediaStreamGateway(profile=TwilioProfile(settings=settings), runtime=runtime)
        from omnivoice_rtc.web import create_app

        app = create_app(
            Settings(livekit=lk), route_installers=[carrier_route_installer([gateway])]
        )
        runner, port = await serve_on_free_port(app, ssl_context=server_ssl)
        try:
            yield TwilioShim(
                base_url=f"https://127.0.0.1:{port}",
                secrets=secrets_,
                client_ssl=ssl.create_default_context(cafile=str(cert)),
                gateway=gateway,
                rest=rest,
            )
        finally:
            await runner.cleanup()


async def test_the_agents_transfer_tool_transfers_a_twilio_call(
    twilio_shim: TwilioShim, desk_worker: AgentWorker
) -> None:
    require_binary("espeak-ng")
    await asyncio.to_thread(desk_worker.wait_warm)
    speech = espeak(SENTENCE, rate_hz=8000)
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sim.call_id}.json"
        twilio_shim.rest.respond("POST", path, 200, {"sid": sim.call_id})
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(twilio_shim.gateway, sim.call_id)
        log = EventLog(session)
        try:
            await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=60)  # the greeting
            tool: ToolCall | None = None
            for _ in range(ATTEMPTS):
                said = await sim.say(speech, 8000)
                try:
                    _, event = await log.wait_for(EventType.TOOL_CALL, since=said, timeout_s=30)
                except TimeoutError:
                    continue
                tool = event.data_as(ToolCall)
                if not str(tool.result).startswith("Unknown destination"):  # misheard
                    break
            heard = [e.data.text for _, e in log.events if isinstance(e.data, UserTranscript)]
            assert tool is not None, f"the tool was never called; heard {heard}"
            assert tool.name == "transfer_call"
            await until(lambda: session.closed, timeout_s=60, what="the call to be transferred")
            said_lines = [e.data.text for _, e in log.events if isinstance(e.data, AgentTranscript)]
            assert call_desk.TRANSFER_LINE in said_lines
        finally:
            await log.aclose()
            await sim.hang_up()
    assert session.end_reason == "transferred"
    (update,) = twilio_shim.rest.requests  # the transfer, and no REST hang-up after it
    assert (update.method, update.path) == ("POST", path)
    assert update.form() == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Dial><Number>{call_desk.SUPPORT}</Number></Dial></Response>",
        )
    ]


async def test_the_operator_keys_holds_and_hangs_up_a_twilio_call(
    twilio_shim: TwilioShim,
    desk_worker: AgentWorker,
    livekit_server: LiveKitServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI on a carrier call: ``calls active`` lists it; ``dtmf`` reaches the caller
    as in-band tones, ``hold`` as the hold chime; ``hangup --reason`` ends it with the
    carrier's REST hang-up and that reason."""
    monkeypatch.setenv("LIVEKIT_URL", livekit_server.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", livekit_server.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", livekit_server.api_secret)
    await asyncio.to_thread(desk_worker.wait_warm)
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sim.call_id}.json"
        twilio_shim.rest.respond("POST", path, 200, {"sid": sim.call_id})
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(twilio_shim.gateway, sim.call_id)
        log = EventLog(session)
        try:
            await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=60)  # greeted: agent up
            capsys.readouterr()
            assert await asyncio.to_thread(main, ["calls", "active", "--json"]) == 0
            (listed,) = [c for c in json.loads(capsys.readouterr().out) if c["id"] == sim.call_id]
            assert listed["route"] == "twilio"
            assert listed["carrier_call_id"] == sim.call_id
            assert (listed["caller"], listed["callee"]) == (sim.caller, sim.callee)

            keyed_from = len(sim.received_pcm)
            assert await asyncio.to_thread(main, ["calls", "dtmf", sim.call_id, "47"]) == 0
            await until(
                lambda: (
                    "47" in detect_dtmf(bytes(sim.received_pcm[keyed_from:]), sample_rate_hz=8000)
                ),
                timeout_s=20,
                what="in-band 4 and 7 at the caller",
            )
            held_from = len(sim.received_pcm)
            assert await asyncio.to_thread(main, ["calls", "hold", sim.call_id]) == 0
            await until(
                lambda: heard_hold_chime(bytes(sim.received_pcm[held_from:]), rate_hz=8000),
                timeout_s=30,
                what="the hold chime at the caller",
            )
            assert await asyncio.to_thread(main, ["calls", "resume", sim.call_id]) == 0
            code = await asyncio.to_thread(
                main, ["calls", "hangup", sim.call_id, "--reason", "operator_done"]
            )
            assert code == 0, capsys.readouterr().err
            await until(lambda: session.closed, timeout_s=30, what="the call to end")
        finally:
            await log.aclose()
            await sim.hang_up()
    assert session.end_reason == "operator_done"
    (hang,) = [r for r in twilio_shim.rest.requests if r.path == path]
    assert hang.form() == [("Status", "completed")]


async def test_the_operator_transfers_after_the_agent_says_the_line(
    twilio_shim: TwilioShim,
    desk_worker: AgentWorker,
    livekit_server: LiveKitServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``calls transfer`` with the default line: the agent says it (``speak`` on
    omnivoice.control, confirmed by its ``agent_speech_end``), then the shim transfers."""
    monkeypatch.setenv("LIVEKIT_URL", livekit_server.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", livekit_server.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", livekit_server.api_secret)
    await asyncio.to_thread(desk_worker.wait_warm)
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sim.call_id}.json"
        twilio_shim.rest.respond("POST", path, 200, {"sid": sim.call_id})
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(twilio_shim.gateway, sim.call_id)
        log = EventLog(session)
        try:
            await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=60)  # greeted: agent up
            code = await asyncio.to_thread(
                main, ["calls", "transfer", sim.call_id, "sip:desk@pbx.example.com"]
            )
            assert code == 0, capsys.readouterr().err
            await until(lambda: session.closed, timeout_s=30, what="the call to be transferred")
            said = [e.data.text for _, e in log.events if isinstance(e.data, AgentTranscript)]
            assert DEFAULT_TRANSFER_LINE in said
        finally:
            await log.aclose()
            await sim.hang_up()
    assert session.end_reason == "transferred"
    (update,) = [r for r in twilio_shim.rest.requests if r.path == path]
    assert update.form() == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            "<Response><Dial><Sip>sip:desk@pbx.example.com</Sip></Dial></Response>",
        )
    ]


async def test_the_agents_end_call_tool_hangs_up_with_its_reason(
    twilio_shim: TwilioShim, desk_worker: AgentWorker
) -> None:
    """The caller asks to end the call: the local pipeline calls ``end_call``, the agent
    says its goodbye and the shim hangs up at Twilio (``Status=completed``); the session's
    end reason is the tool's ``reason`` (as a slug)."""
    require_binary("espeak-ng")
    await asyncio.to_thread(desk_worker.wait_warm)
    speech = espeak("I want to end this phone call", rate_hz=8000)
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        path = f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{sim.call_id}.json"
        twilio_shim.rest.respond("POST", path, 200, {"sid": sim.call_id})
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(twilio_shim.gateway, sim.call_id)
        log = EventLog(session)
        try:
            await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=60)  # the greeting
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
            assert tool.name == "end_call"
            await until(lambda: session.closed, timeout_s=60, what="the call to end")
            said_lines = [e.data.text for _, e in log.events if isinstance(e.data, AgentTranscript)]
            assert DEFAULT_GOODBYE in said_lines
        finally:
            await log.aclose()
            await sim.hang_up()
    assert tool.arguments is not None
    assert session.end_reason == _reason(str(tool.arguments["reason"]))
    (hang,) = [r for r in twilio_shim.rest.requests if r.path == path]
    assert hang.form() == [("Status", "completed")]
