"""POST /api/calls on aiohttp's test server: the key, input checks, and each outcome of a
Twilio call dialled through an in-memory REST double and answered (or not) by the carrier
simulator over a real WebSocket; call rooms are in memory (FakeCallRoom)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from omnivoice_rtc._errors import CarrierRestError
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioRestClient, TwilioSettings
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.settings.limits import LimitSettings, OutboundLimits
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.call_room import CallRoomBase, CallRoomSpec, RoomCallbacks
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.simulate.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from omnivoice_rtc.simulate.carrier_webhooks import stream_target_from_markup
from omnivoice_rtc.stack.dev import CALLS_ROUTES, DevOptions, build_dev_plan
from omnivoice_rtc.web.calls_api import CALLS_PATH, install_calls_api, parse_call_request
from tests.fakes.fake_call_room import FakeCallRoom
from tests.unit.web.conftest import ClientFactory, make_settings

pytestmark = pytest.mark.unit

KEY = "calls-key"
SID = "CA" + "5" * 32
AUTH_TOKEN = "twilio-auth-token"


class _Dialler(TwilioRestClient):
    """Records dials and hang-ups instead of sending them; ``refuse`` fails the dial."""

    def __init__(self, refuse: CarrierRestError | None = None) -> None:
        super().__init__(account_sid="AC1", auth_token=AUTH_TOKEN)
        self.refuse = refuse
        self.twiml: asyncio.Queue[str] = asyncio.Queue()
        self.hangups: list[str] = []

    async def make_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None = None
    ) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.twiml.put_nowait(twiml)
        return SID

    async def hangup(self, call_sid: str) -> bool:
        self.hangups.append(call_sid)
        return True


class _Rooms:
    def __init__(self) -> None:
        self.specs: list[CallRoomSpec] = []

    def __call__(self, spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        self.specs.append(spec)
        return FakeCallRoom(spec=spec, callbacks=callbacks)


async def _client(
    make_client: ClientFactory, dialler: _Dialler, rooms: _Rooms, *, key: str = KEY
) -> TestClient[web.Request, web.Application]:
    settings: Settings = make_settings(token_key=key)
    runtime = ShimRuntime(
        livekit=settings.livekit,
        agent_name="stack-agent",
        room_factory=rooms,
        guard=CallGuard(limits=LimitSettings(outbound=OutboundLimits(allow=("*",)))),
    )
    profile = TwilioProfile(
        settings=TwilioSettings(auth_token=AUTH_TOKEN, account_sid="AC1", from_number="+15550000"),
        rest=dialler,
    )
    gateway = MediaStreamGateway(
        profile=profile, runtime=runtime, public_base_url="https://public.example"
    )
    return await make_client(
        settings, route_installers=[carrier_route_installer([gateway]), install_calls_api]
    )


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _answer(
    client: TestClient[web.Request, web.Application], dialler: _Dialler
) -> CarrierSimulator:
    """Be Twilio: read the dialled TwiML and open its stream on the test server."""
    twiml = await asyncio.wait_for(dialler.twiml.get(), 10)
    url, parameters, rate = stream_target_from_markup("twilio", twiml)
    assert url == "wss://public.example/carriers/twilio/media"
    local = str(client.make_url("/carriers/twilio/media")).replace("http", "ws", 1)
    sim = CarrierSimulator(
        carrier="twilio",
        base_url=str(client.make_url("")),
        secrets_=CarrierSecrets(twilio_auth_token=AUTH_TOKEN),
        call_id=SID,
    )
    await sim.__aenter__()
    await sim.open_stream(StreamTarget(local, parameters, rate))
    return sim


async def test_an_answered_call_reports_its_room_and_gets_the_requested_agent(
    make_client: ClientFactory,
) -> None:
    dialler, rooms = _Dialler(), _Rooms()
    client = await _client(make_client, dialler, rooms)
    body = {"to": "+15550100", "via": "twilio", "agent_name": "reminder-1", "ring_timeout_s": 20}
    answering = asyncio.ensure_future(_answer(client, dialler))
    response = await client.post(CALLS_PATH, json=body, headers=_auth())
    reply: dict[str, Any] = await response.json()
    assert response.status == 200, reply
    assert reply["outcome"] == "answered"
    assert (reply["call_id"], reply["room"]) == (SID, f"call-twilio-{SID}")
    assert reply["participant"] == f"pstn-twilio-{SID}"
    assert [spec.agent_name for spec in rooms.specs] == ["reminder-1"]
    assert response.headers["Cache-Control"] == "no-store"
    await (await answering).__aexit__(None, None, None)


async def test_without_an_agent_name_the_stack_agent_is_dispatched(
    make_client: ClientFactory,
) -> None:
    dialler, rooms = _Dialler(), _Rooms()
    client = await _client(make_client, dialler, rooms)
    answering = asyncio.ensure_future(_answer(client, dialler))
    response = await client.post(
        CALLS_PATH, json={"to": "+15550100", "via": "twilio"}, headers=_auth()
    )
    assert (await response.json())["outcome"] == "answered"
    assert [spec.agent_name for spec in rooms.specs] == ["stack-agent"]
    await (await answering).__aexit__(None, None, None)


async def test_no_stream_in_time_is_no_answer_and_the_call_is_hung_up(
    make_client: ClientFactory,
) -> None:
    dialler, rooms = _Dialler(), _Rooms()
    client = await _client(make_client, dialler, rooms)
    response = await client.post(
        CALLS_PATH,
        json={"to": "+15550100", "via": "twilio", "ring_timeout_s": 1},
        headers=_auth(),
    )
    reply = await response.json()
    assert response.status == 200
    assert reply["outcome"] == "no_answer"
    assert reply["call_id"] == SID
    assert reply["room"] == ""
    assert dialler.hangups == [SID]
    assert rooms.specs == []


async def test_a_refused_dial_is_failed_with_the_carriers_status_and_code(
    make_client: ClientFactory,
) -> None:
    refusal = CarrierRestError(
        "twilio: POST /Calls.json returned HTTP 400 (code 21211): Invalid 'To'",
        carrier="twilio",
        status=400,
        code="21211",
    )
    client = await _client(make_client, _Dialler(refuse=refusal), _Rooms())
    response = await client.post(
        CALLS_PATH, json={"to": "+15550100", "via": "twilio"}, headers=_auth()
    )
    reply = await response.json()
    assert response.status == 200
    assert (reply["outcome"], reply["status"], reply["code"]) == ("failed", 400, "21211")
    assert "Invalid 'To'" in reply["detail"]


@pytest.mark.parametrize(
    ("key", "headers", "status"),
    [
        ("", {"Authorization": "Bearer anything"}, 403),
        (KEY, {}, 401),
        (KEY, {"Authorization": "Bearer wrong"}, 401),
    ],
    ids=["no-key-configured", "no-key-presented", "wrong-key"],
)
async def test_the_key_is_required(
    make_client: ClientFactory, key: str, headers: dict[str, str], status: int
) -> None:
    dialler = _Dialler()
    client = await _client(make_client, dialler, _Rooms(), key=key)
    response = await client.post(
        CALLS_PATH, json={"to": "+15550100", "via": "twilio"}, headers=headers
    )
    assert response.status == status
    assert "error" in await response.json()
    assert dialler.twiml.empty()


async def test_bad_requests_are_refused_before_dialling(make_client: ClientFactory) -> None:
    dialler = _Dialler()
    client = await _client(make_client, dialler, _Rooms())
    cases: list[tuple[Any, int]] = [
        ({"to": "+15550100", "via": "vonage"}, 404),
        ({"to": "call me", "via": "twilio"}, 400),
        ({"to": "+15550100", "via": "twilio", "ring_timeout_s": 0}, 400),
        ({"to": "+15550100", "via": "twilio", "extra": 1}, 400),
    ]
    for body, status in cases:
        response = await client.post(CALLS_PATH, json=body, headers=_auth())
        assert response.status == status, body
    response = await client.post(CALLS_PATH, data=b"to=1", headers=_auth())
    assert response.status == 415
    assert dialler.twiml.empty()


def test_parse_call_request_names_the_field_at_fault() -> None:
    parsed = parse_call_request({"to": "15550100", "via": "plivo", "ring_timeout_s": 5})
    assert (parsed.to, parsed.via, parsed.agent_name, parsed.ring_timeout_s) == (
        "15550100",
        "plivo",
        "",
        5.0,
    )
    with pytest.raises(ValueError, match=r"^agent_name:"):
        parse_call_request({"to": "+1555", "via": "twilio", "agent_name": "bad name"})
    with pytest.raises(ValueError, match=r"^ring_timeout_s:"):
        parse_call_request({"to": "+15550100", "via": "twilio", "ring_timeout_s": True})


def test_the_dev_web_server_serves_the_calls_endpoint_with_the_carrier_routes() -> None:
    settings = Settings.from_env({"TWILIO_AUTH_TOKEN": "t"})
    plan = build_dev_plan(settings, DevOptions(agent=False, sip=False))
    (web_spec,) = [spec for spec in plan.specs if spec.name == "web"]
    assert CALLS_ROUTES in web_spec.argv
    assert CALLS_ROUTES == "omnivoice_rtc.web.calls_api:install_calls_api"
