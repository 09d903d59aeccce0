"""Call control of carrier calls end to end in the web process: a PstnSession on a real
CallBridge (in-memory socket and room) whose carrier REST is a loopback fake. Each
carrier's fake asserts the exact transfer and hang-up request; the session ends with the
transfer's or hang-up's reason; a transfer is not followed by a REST hang-up.

Marked integration: the REST fake opens a loopback socket.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from omnivoice_rtc._errors import UnsupportedActionError
from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.calls.control_wire import (
    CALL_CONTROL_TOPIC,
    ControlReply,
    ControlRequest,
    decode_packet,
)
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoSettings
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.call_bridge import BridgeHooks, CallBridge
from omnivoice_rtc.shim.call_room import RoomCallbacks
from omnivoice_rtc.shim.carrier_control import CarrierControl
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.types import CallInfo
from tests.fakes.carrier_rest import CarrierRestFake, RecordedRequest
from tests.fakes.fake_call_room import AGENT_IDENTITY, FakeCallRoom
from tests.fakes.media_socket import FakeMediaSocket

pytestmark = pytest.mark.integration

PUBLIC = "https://voice.example.com"


@pytest.fixture
async def fake() -> AsyncIterator[CarrierRestFake]:
    async with CarrierRestFake() as server:
        yield server


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Call:
    """A live call: session + bridge + room + socket, the bridge running."""

    def __init__(self, profile: AnyProfile, call_id: str) -> None:
        self.profile = profile
        self.control = CarrierControl(profile=profile, public_base_url=PUBLIC)
        self.session = PstnSession(
            call=CallInfo(call_id=call_id, from_="+15550001", to="+15550002", carrier=profile.name),
            actions=self.control.actions(),
        )
        self.ws, self.callbacks = FakeMediaSocket(), RoomCallbacks()
        callbacks = self.callbacks
        self.room = FakeCallRoom(callbacks=callbacks)
        hangup: Callable[[], Awaitable[None]] | None = None
        if profile.can_hang_up:

            async def hangup() -> None:
                await profile.hangup(call_id)

        self.bridge = CallBridge(
            ws=self.ws,
            codec=TwilioCodec(stream_id="MZ1"),
            call=self.session.call,
            inbound=InboundAudio(carrier_format=TWILIO, room_rate_hz=8000),
            outbound=OutboundAudio(carrier_format=TWILIO, room_rate_hz=8000),
            room=self.room,
            hooks=BridgeHooks(
                on_event=self.session.on_event, on_closed=self.session.on_closed, hangup=hangup
            ),
        )
        self.bridge.wire(callbacks)
        callbacks.on_call_control = self.session.on_call_control
        self.session.attach(self.bridge)
        self.run: asyncio.Future[str] | None = None

    async def start(self) -> None:
        self.run = asyncio.ensure_future(self.bridge.run())
        await asyncio.wait_for(self.bridge.relaying.wait(), 5)
        self.room.agent_joins()

    async def ended(self) -> str:
        assert self.run is not None
        return await asyncio.wait_for(self.run, 5)


def _twilio(fake: CarrierRestFake) -> TwilioProfile:
    settings = TwilioSettings(account_sid="AC1", auth_token="tok", api_base_url=fake.base_url)
    return TwilioProfile(settings=settings)


def _form(request: RecordedRequest) -> list[tuple[str, str]]:
    return request.form()


async def test_twilio_transfer_updates_the_call_with_dial_twiml(fake: CarrierRestFake) -> None:
    path = "/2010-04-01/Accounts/AC1/Calls/CA1.json"
    fake.respond("POST", path, 200, {"sid": "CA1"})
    call = Call(_twilio(fake), "CA1")
    await call.start()
    await call.session.transfer("+15550100", say="")
    assert await call.ended() == "transferred"
    assert call.session.end_reason == "transferred"
    (update,) = fake.requests  # no REST hang-up after the transfer
    assert (update.method, update.path) == ("POST", path)
    assert update.headers["Authorization"] == "Basic " + base64.b64encode(b"AC1:tok").decode()
    assert _form(update) == [
        (
            "Twiml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            "<Response><Dial><Number>+15550100</Number></Dial></Response>",
        )
    ]
    await call.profile.aclose()


async def test_twilio_transfer_to_a_sip_uri_and_hangup_with_reason(fake: CarrierRestFake) -> None:
    path = "/2010-04-01/Accounts/AC1/Calls/CA2.json"
    fake.respond("POST", path, 200, {"sid": "CA2"})
    call = Call(_twilio(fake), "CA2")
    await call.start()
    await call.session.hangup("caller_asked")
    assert await call.ended() == "caller_asked"
    assert call.session.end_reason == "caller_asked"
    (hang,) = fake.requests
    assert _form(hang) == [("Status", "completed")]
    # the SIP flavour of the TwiML, as a pure function of the profile
    from omnivoice_rtc.carriers.twilio import twiml_dial
    from omnivoice_rtc.types.call_control import parse_transfer_target

    assert twiml_dial(parse_transfer_target("sip:alice@pbx.example.com")).endswith(
        "<Response><Dial><Sip>sip:alice@pbx.example.com</Sip></Dial></Response>"
    )
    await call.profile.aclose()


async def test_a_refused_transfer_leaves_the_call_up(fake: CarrierRestFake) -> None:
    path = "/2010-04-01/Accounts/AC1/Calls/CA3.json"
    fake.respond("POST", path, 400, {"code": 21201, "message": "bad number"})
    call = Call(_twilio(fake), "CA3")
    await call.start()
    with pytest.raises(Exception, match="21201"):
        await call.session.transfer("+15550100", say="")
    assert not call.session.closed
    fake.respond("POST", path, 200, {"sid": "CA3"})
    await call.session.hangup("after_failed_transfer")
    assert await call.ended() == "after_failed_transfer"
    await call.profile.aclose()


async def test_telnyx_transfer_action_and_hangup(fake: CarrierRestFake) -> None:
    fake.respond("POST", "/v2/calls/v3:c1/actions/transfer", 200, {"data": {"result": "ok"}})
    fake.respond("POST", "/v2/calls/v3:c2/actions/hangup", 200, {"data": {"result": "ok"}})
    profile = TelnyxProfile(settings=TelnyxSettings(api_key="KEY", api_base_url=fake.base_url))
    call = Call(profile, "v3:c1")
    await call.start()
    await call.session.transfer("sip:desk@pbx.example.com", say="")
    assert await call.ended() == "transferred"
    other = Call(profile, "v3:c2")
    await other.start()
    await other.session.hangup("done")
    assert await other.ended() == "done"
    transfer, hang = fake.requests
    assert (transfer.method, transfer.path) == ("POST", "/v2/calls/v3:c1/actions/transfer")
    assert transfer.headers["Authorization"] == "Bearer KEY"
    assert transfer.json() == {"to": "sip:desk@pbx.example.com"}
    assert (hang.method, hang.path, hang.json()) == (
        "POST",
        "/v2/calls/v3:c2/actions/hangup",
        {},
    )
    await profile.aclose()


async def test_vonage_transfer_ncco_and_hangup(fake: CarrierRestFake) -> None:
    fake.respond("PUT", "/v1/calls/u-1", 204)
    fake.respond("PUT", "/v1/calls/u-2", 204)
    profile = VonageProfile(
        settings=VonageSettings(
            application_id="app", private_key=_pem(), api_base_url=fake.base_url
        )
    )
    call = Call(profile, "u-1")
    await call.start()
    await call.session.transfer("+447700900000", say="")
    assert await call.ended() == "transferred"
    other = Call(profile, "u-2")
    await other.start()
    await other.session.hangup("done")
    assert await other.ended() == "done"
    transfer, hang = fake.requests
    assert (transfer.method, transfer.path) == ("PUT", "/v1/calls/u-1")
    assert transfer.headers["Authorization"].startswith("Bearer ")
    assert transfer.json() == {
        "action": "transfer",
        "destination": {
            "type": "ncco",
            "ncco": [
                {"action": "connect", "endpoint": [{"type": "phone", "number": "447700900000"}]}
            ],
        },
    }
    assert (hang.method, hang.path, hang.json()) == ("PUT", "/v1/calls/u-2", {"action": "hangup"})
    await profile.aclose()


async def test_plivo_transfer_points_aleg_url_at_a_served_dial_document(
    fake: CarrierRestFake,
) -> None:
    fake.respond("POST", "/v1/Account/MA1/Call/c-1/", 202, {"message": "call transferred"})
    fake.respond("DELETE", "/v1/Account/MA1/Call/c-2/", 204)
    profile = PlivoProfile(
        settings=PlivoSettings(auth_id="MA1", auth_token="tok", api_base_url=fake.base_url)
    )
    call = Call(profile, "c-1")
    await call.start()
    await call.session.transfer("+14155550100", say="")
    assert await call.ended() == "transferred"
    other = Call(profile, "c-2")
    await other.start()
    await other.session.hangup("done")
    assert await other.ended() == "done"
    transfer, hang = fake.requests
    assert (transfer.method, transfer.path) == ("POST", "/v1/Account/MA1/Call/c-1/")
    assert transfer.headers["Authorization"] == "Basic " + base64.b64encode(b"MA1:tok").decode()
    body: dict[str, Any] = transfer.json()
    assert body["legs"] == "aleg"
    assert body["aleg_method"] == "POST"
    assert body["aleg_url"].startswith(f"{PUBLIC}/carriers/plivo/transfer/")
    assert (hang.method, hang.path, hang.body) == ("DELETE", "/v1/Account/MA1/Call/c-2/", b"")
    # the carrier fetches the document once: <Dial><Number>
    token = body["aleg_url"].rsplit("/", 1)[1]
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request(
        "POST", f"/carriers/plivo/transfer/{token}", match_info={"token": token}
    )
    answer = await call.control.handle_document(request)
    assert answer.content_type == "text/xml"
    assert answer.body == (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b"<Response><Dial><Number>14155550100</Number></Dial></Response>"
    )
    with pytest.raises(web.HTTPNotFound):
        await call.control.handle_document(request)
    await profile.aclose()


async def test_exotel_transfer_is_unsupported_with_the_reason() -> None:
    profile = ExotelProfile(settings=ExotelSettings())
    call = Call(profile, "ex-1")
    await call.start()
    caps = call.session.capabilities
    assert not caps.supports("transfer")
    assert "next applet" in caps.unsupported["transfer"]
    assert caps.supported == {"hangup", "dtmf", "hold", "resume"}
    with pytest.raises(UnsupportedActionError, match="exotel: transfer is not supported"):
        await call.session.transfer("+15550100")
    await call.session.hangup("done")  # no REST hang-up: closing the stream ends it
    assert await call.ended() == "done"


async def test_transfer_without_rest_credentials_is_unsupported() -> None:
    call = Call(TwilioProfile(settings=TwilioSettings(auth_token="tok")), "CA9")
    await call.start()
    assert "TWILIO_ACCOUNT_SID" in call.session.capabilities.unsupported["transfer"]
    with pytest.raises(UnsupportedActionError):
        await call.session.transfer("+15550100")
    await call.session.hangup("done")
    assert await call.ended() == "done"


async def test_dtmf_goes_in_band_and_hold_goes_to_the_agent(fake: CarrierRestFake) -> None:
    call = Call(_twilio(fake), "CA4")
    await call.start()
    await call.session.send_dtmf("12#")
    assert call.bridge.counters.dtmf_out == 3  # in-band: Twilio has no REST digits
    await call.ws.wait_sent(3)  # tone frames reach the carrier socket
    await call.session.hold()
    await call.session.resume()
    from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, decode_control

    kinds = [decode_control(p).type for t, p in call.room.data if t == CONTROL_TOPIC]
    assert kinds == ["hold", "resume"]
    with pytest.raises(ValueError, match="dtmf"):
        await call.session.send_dtmf("12x")
    await call.session.hangup("done")
    await call.ended()
    await call.profile.aclose()


async def test_requests_from_the_agent_over_the_room_are_answered(fake: CarrierRestFake) -> None:
    fake.respond("POST", "/2010-04-01/Accounts/AC1/Calls/CA5.json", 200, {"sid": "CA5"})
    call = Call(_twilio(fake), "CA5")
    await call.start()
    asked = ControlRequest(action="capabilities")
    call.callbacks.on_call_control(AGENT_IDENTITY, asked.encode())
    call.callbacks.on_call_control("stranger", ControlRequest(action="hangup").encode())
    for _ in range(200):
        if any(t == CALL_CONTROL_TOPIC for t, _ in call.room.data):
            break
        await asyncio.sleep(0.01)
    (reply_packet,) = [p for t, p in call.room.data if t == CALL_CONTROL_TOPIC]
    assert call.room.data_destinations[-1] == (AGENT_IDENTITY,)
    reply = decode_packet(reply_packet)
    assert isinstance(reply, ControlReply)
    assert reply.ok
    assert reply.id == asked.id
    assert reply.result["supported"] == ["dtmf", "hangup", "hold", "resume", "transfer"]
    assert not call.session.closed  # the stranger's hang-up was ignored
    hangup = ControlRequest(action="hangup", args={"reason": "agent_done"}).encode()
    call.callbacks.on_call_control("", hangup)  # a sender not known yet: dropped
    assert not call.session.closed
    call.callbacks.on_call_control(AGENT_IDENTITY, hangup)
    call.callbacks.on_call_control(AGENT_IDENTITY, hangup)  # sent again: carried out once
    assert await call.ended() == "agent_done"
    assert len(fake.requests) == 1
    await call.profile.aclose()


async def test_telnyx_and_vonage_play_digits_over_rest(fake: CarrierRestFake) -> None:
    """Carriers with a REST send-digits call use it (nothing in-band); Twilio, Plivo and
    Exotel key in-band (test_dtmf_goes_in_band_and_hold_goes_to_the_agent)."""
    fake.respond("POST", "/v2/calls/v3:d1/actions/send_dtmf", 200, {"data": {"result": "ok"}})
    fake.respond("PUT", "/v1/calls/u-d1/dtmf", 200, {"message": "DTMF sent", "uuid": "u-d1"})
    telnyx = TelnyxProfile(settings=TelnyxSettings(api_key="KEY", api_base_url=fake.base_url))
    vonage = VonageProfile(
        settings=VonageSettings(
            application_id="app", private_key=_pem(), api_base_url=fake.base_url
        )
    )
    for profile, call_id in ((telnyx, "v3:d1"), (vonage, "u-d1")):
        call = Call(profile, call_id)
        await call.start()
        await call.session.send_dtmf("12#")
        assert call.bridge.counters.dtmf_out == 0  # no tones of ours
        call.ws.feed_close()  # the caller hangs up
        assert await call.ended() == "carrier_hangup"
        await profile.aclose()
    digits_telnyx, digits_vonage = [r for r in fake.requests if "dtmf" in r.path]
    assert (digits_telnyx.method, digits_telnyx.json()) == ("POST", {"digits": "12#"})
    assert digits_telnyx.headers["Authorization"] == "Bearer KEY"
    assert (digits_vonage.method, digits_vonage.path, digits_vonage.json()) == (
        "PUT",
        "/v1/calls/u-d1/dtmf",
        {"digits": "12#"},
    )
