"""Example (b): ``omnivoice-rtc call +15550100 --via twilio --agent examples.reminder:build``
against the local stack. The web server dials over the loopback Twilio REST fake, the test
is Twilio (it opens the dialled TwiML's stream with the carrier simulator and listens), the
command's private worker serves the call; the callee hears the reminder first.

The reminder itself needs the worker to load ``OMNIVOICE_AGENT`` factories (the agent plugin
API); until the worker has that setting the test checks the rest of the path (private
worker, per-call agent, answered, followed to the hang-up)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from examples.reminder import DEFAULT_MESSAGE, ReminderAgent, build, reminder_text
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.cli import main
from omnivoice_rtc.settings import (
    LimitSettings,
    LiveKitSettings,
    OutboundLimits,
    Settings,
    TokenSettings,
)
from omnivoice_rtc.settings.catalog import all_variables
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from omnivoice_rtc.simulate.carrier_webhooks import stream_target_from_markup
from omnivoice_rtc.web import create_app
from omnivoice_rtc.web.calls_api import install_calls_api
from tests.conftest import require_binary
from tests.fakes.carrier_rest import CarrierRestFake
from tests.fakes.local_site import serve_on_free_port
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ACCOUNT = "AC" + "7" * 32
SID = "CA" + "8" * 32
KEY = "reminder-test-key"


def _worker_loads_factories() -> bool:
    """True once the settings tree has ``OMNIVOICE_AGENT`` (the agent plugin API)."""
    return "OMNIVOICE_AGENT" in all_variables()


def test_build_returns_an_agent_that_greets_with_the_reminder() -> None:
    agent = build(object())
    assert isinstance(agent, ReminderAgent)
    assert agent.greeting == reminder_text(DEFAULT_MESSAGE)
    assert "dental practice" in str(agent.instructions)

    @dataclass
    class Ctx:
        parameters: dict[str, str]

    custom = build(Ctx(parameters={"reminder": "your car is ready"}))
    assert custom.greeting == reminder_text("your car is ready")


@dataclass
class Server:
    url: str
    rest: CarrierRestFake
    secrets: CarrierSecrets
    livekit: LiveKitSettings


@pytest.fixture
async def server(livekit_server: LiveKitServer) -> AsyncIterator[Server]:
    rest = CarrierRestFake()
    await rest.start()
    rest.respond("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", 201, {"sid": SID})
    secrets_ = CarrierSecrets()
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    profile = TwilioProfile(
        settings=TwilioSettings(
            account_sid=ACCOUNT,
            auth_token=secrets_.twilio_auth_token,
            from_number="+15550000",
            api_base_url=rest.base_url,
        )
    )
    runtime = ShimRuntime(
        livekit=lk,
        agent_name="stack-agent-unused",
        agent_join_timeout_s=120,
        # make_call's toll-fraud guard: the test dials the fake's numbers
        guard=CallGuard(limits=LimitSettings(outbound=OutboundLimits(allow=("+1555",)))),
    )
    gateway = MediaStreamGateway(
        profile=profile, runtime=runtime, public_base_url="https://public.example"
    )
    settings = Settings(livekit=lk, tokens=TokenSettings(key=KEY))
    app = create_app(
        settings, route_installers=[carrier_route_installer([gateway]), install_calls_api]
    )
    runner, port = await serve_on_free_port(app)
    try:
        yield Server(f"http://127.0.0.1:{port}", rest, secrets_, lk)
    finally:
        await runner.cleanup()
        await rest.aclose()


async def _be_twilio(server: Server, command: asyncio.Future[int]) -> CarrierSimulator:
    """Answer the dialled call: open the TwiML's stream on the local server."""
    for _ in range(1200):
        if server.rest.requests or command.done():
            break
        await asyncio.sleep(0.1)
    assert server.rest.requests, f"the command dialled nothing (exit status {command.result()})"
    twiml = dict(server.rest.requests[-1].form())["Twiml"]
    _url, parameters, rate = stream_target_from_markup("twilio", twiml)
    sim = CarrierSimulator(
        carrier="twilio", base_url=server.url, secrets_=server.secrets, call_id=SID
    )
    await sim.__aenter__()
    local = server.url.replace("http", "ws", 1) + "/carriers/twilio/media"
    await sim.open_stream(StreamTarget(local, parameters, rate))
    sim.start_mic()
    return sim


async def test_the_reminder_call_over_twilio(
    server: Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require_binary("espeak-ng")
    monkeypatch.setenv("LIVEKIT_URL", server.livekit.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", server.livekit.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", server.livekit.api_secret)
    monkeypatch.setenv("OMNIVOICE_TOKEN_KEY", KEY)
    argv = [
        "call", "+15550100", "--via", "twilio", "--agent", "examples.reminder:build",
        "--server", server.url, "--max-duration-s", "60",
    ]  # fmt: skip
    command = asyncio.ensure_future(asyncio.to_thread(main, argv))
    sim = await _be_twilio(server, command)
    try:
        for _ in range(600):  # the agent joins and (with factories) speaks first
            if sim.received_seconds() > 2.0 or command.done():
                break
            await asyncio.sleep(0.1)
        heard_s = sim.received_seconds()
        await asyncio.sleep(2.0)
    finally:
        await sim.hang_up()
        await sim.__aexit__(None, None, None)
    status = await asyncio.wait_for(command, 120)
    printed = capsys.readouterr().out
    print(printed)
    assert "answered: +15550100 via twilio" in printed
    assert f"room call-twilio-{SID}" in printed
    assert "call ended" in printed
    assert status == 0
    dial = server.rest.requests[0]
    assert dict(dial.form())["To"] == "+15550100"
    if _worker_loads_factories():
        assert heard_s > 2.0  # the reminder, spoken before the callee said anything
        assert "agent: Hello, this is a reminder from your dental practice" in printed
