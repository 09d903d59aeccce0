"""The gateway's webhook side without sockets: verify, ask the handler, answer or refuse,
and make_call's checks; plus the injectable room factory.

Webhooks are neutral :class:`WebhookRequest` values (``answer_webhook``) or aiohttp's mocked
requests (``handle_webhook``); REST calls go to in-memory client doubles.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc import CallRejectedError
from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings, basic_authorization
from omnivoice_rtc.carriers.plivo import (
    PlivoProfile,
    PlivoRestClient,
    PlivoSettings,
    compute_signature_v3,
)
from omnivoice_rtc.carriers.profile import WebhookRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.stream_tokens import StreamGrant
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioSettings, compute_signature
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.settings import LimitSettings, LiveKitSettings, OutboundLimits
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.call_room import CallRoomBase, CallRoomSpec, RoomCallbacks
from omnivoice_rtc.shim.handshake import OpenedStream
from omnivoice_rtc.shim.media_stream_gateway import (
    MediaStreamGateway,
    ShimRuntime,
    call_parameter_attributes,
)
from omnivoice_rtc.shim.policy import CallCounters
from omnivoice_rtc.types import CallInfo
from tests.fakes.fake_call_room import FakeCallRoom
from tests.fakes.media_socket import FakeMediaSocket

pytestmark = pytest.mark.unit

BASE = "https://voice.example.com"
TWILIO_TOKEN = "twilio-auth-token"
TWILIO_FIELDS = {
    "CallSid": "CA1",
    "From": "+15550100",
    "To": "+15550199",
    "Direction": "inbound",
    "CallStatus": "ringing",
}


def dialling_guard(**outbound: Any) -> CallGuard:
    """A call guard whose outbound guard allows every destination (``outbound``: more)."""
    limits = LimitSettings(outbound=OutboundLimits(allow=("*",), **outbound))
    return CallGuard(limits=limits)


def _gateway(profile: AnyProfile, **runtime: Any) -> MediaStreamGateway:
    rt = ShimRuntime(livekit=LiveKitSettings(), agent_name="agent", **runtime)
    return MediaStreamGateway(profile=profile, runtime=rt)


async def _started(profile: AnyProfile, **runtime: Any) -> MediaStreamGateway:
    gateway = _gateway(profile, **runtime)
    await gateway.start()
    return gateway


def _twilio_hook(
    fields: dict[str, str], *, token: str = TWILIO_TOKEN, query: str = ""
) -> WebhookRequest:
    url = f"{BASE}/carriers/twilio/answer{'?' + query if query else ''}"
    return WebhookRequest(
        method="POST",
        url=url,
        headers={"X-Twilio-Signature": compute_signature(token, url, fields)},
        query=parse_qsl(query),
        form=fields,
        raw_body=urlencode(fields).encode(),
    )


def _twilio() -> TwilioProfile:
    return TwilioProfile(settings=TwilioSettings(auth_token=TWILIO_TOKEN))


async def test_accepted_call_gets_markup_with_a_token_bound_to_it() -> None:
    gateway = await _started(_twilio())
    offered: list[CallInfo] = []
    gateway.on_call(offered.append)
    answer = await gateway.answer_webhook(_twilio_hook(TWILIO_FIELDS), base_url=BASE)
    assert (answer.status, answer.content_type) == (200, "text/xml")
    assert 'url="wss://voice.example.com/carriers/twilio/media"' in answer.body
    assert [c.call_id for c in offered] == ["CA1"]
    token = answer.body.split('name="token" value="')[1].split('"')[0]
    grant = await gateway.runtime.tokens.redeem(token, "twilio")
    assert (grant.call_id, dict(grant.context)) == (
        "CA1",
        {"from": "+15550100", "to": "+15550199", "direction": "inbound"},
    )


async def test_bad_signature_403_bad_call_400_and_nothing_created() -> None:
    gateway = await _started(_twilio())
    asked: list[CallInfo] = []
    gateway.on_call(asked.append)
    forged = await gateway.answer_webhook(_twilio_hook(TWILIO_FIELDS, token="guess"), base_url=BASE)
    assert (forged.status, forged.body) == (403, "invalid signature")
    no_sid = {k: v for k, v in TWILIO_FIELDS.items() if k != "CallSid"}
    bad = await gateway.answer_webhook(_twilio_hook(no_sid), base_url=BASE)
    assert (bad.status, bad.body) == (400, "twilio: webhook is missing CallSid")
    assert asked == []
    assert await gateway.runtime.tokens.pending() == 0


async def test_a_rejected_call_gets_the_carriers_reject_form_and_no_token() -> None:
    gateway = await _started(_twilio())

    def busy(call: CallInfo) -> None:
        raise CallRejectedError("line busy", reason="busy")

    gateway.on_call(busy)
    answer = await gateway.answer_webhook(_twilio_hook(TWILIO_FIELDS), base_url=BASE)
    assert answer.status == 200
    assert '<Reject reason="busy" />' in answer.body
    assert await gateway.runtime.tokens.pending() == 0


def _telnyx_call_control(event_type: str) -> tuple[TelnyxProfile, WebhookRequest]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    profile = TelnyxProfile(settings=TelnyxSettings(public_key=base64.b64encode(public).decode()))
    body = json.dumps(
        {
            "data": {
                "event_type": event_type,
                "payload": {
                    "call_control_id": "v3:abc",
                    "from": "+15550100",
                    "to": "+15550199",
                    "direction": "incoming",
                },
            }
        }
    ).encode()
    ts = str(int(time.time()))
    hook = WebhookRequest(
        method="POST",
        url=f"{BASE}/carriers/telnyx/answer",
        headers={
            "telnyx-timestamp": ts,
            "telnyx-signature-ed25519": telnyx_api.sign_webhook(key, ts, body),
        },
        query=[],
        form={},
        raw_body=body,
    )
    return profile, hook


async def test_missing_rest_credentials_answer_503_naming_the_variable() -> None:
    """A Telnyx Call Control call is answered over REST: without TELNYX_API_KEY the
    webhook gets 503 with the variable's name, the handler is not asked and no token is
    issued (it used to be a bare ValueError, HTTP 500)."""
    profile, hook = _telnyx_call_control("call.initiated")
    gateway = await _started(profile)
    asked: list[CallInfo] = []
    gateway.on_call(asked.append)
    answer = await gateway.answer_webhook(hook, base_url=BASE)
    assert answer.status == 503
    assert answer.body == (
        "TELNYX_API_KEY: required for answering a Call Control call on telnyx but not set"
    )
    assert asked == []
    assert await gateway.runtime.tokens.pending() == 0


async def test_status_reports_are_acknowledged_and_ask_nobody() -> None:
    profile, hook = _telnyx_call_control("call.answered")
    gateway = await _started(profile)
    asked: list[CallInfo] = []
    gateway.on_call(asked.append)
    answer = await gateway.answer_webhook(hook, base_url=BASE)
    assert (answer.status, answer.body) == (200, "{}")
    assert asked == []


def _exotel(**settings: Any) -> ExotelProfile:
    return ExotelProfile(
        settings=ExotelSettings(stream_user="exo", stream_password="pw", **settings)
    )


async def test_handle_webhook_converts_aiohttp_requests() -> None:
    """Exotel's applet GETs our https endpoint with Basic credentials and gets the stream
    URL as JSON; the gateway answers 503 before start and 403 on wrong credentials."""
    gateway = _gateway(_exotel(), public_base_url=BASE)
    path = "/carriers/exotel/answer?CallSid=ex1&CallFrom=0987&CallTo=0804&Direction=incoming"
    auth = {"Authorization": basic_authorization("exo", "pw")}
    early = await gateway.handle_webhook(make_mocked_request("GET", path, headers=auth))
    assert (early.status, early.text) == (503, "gateway not started")
    await gateway.start()
    response = await gateway.handle_webhook(make_mocked_request("GET", path, headers=auth))
    assert (response.status, response.content_type) == (200, "application/json")
    assert response.text is not None
    url = urlsplit(json.loads(response.text)["url"])
    assert (url.scheme, url.username, url.password, url.hostname, url.path) == (
        "wss",
        "exo",
        "pw",
        "voice.example.com",
        "/carriers/exotel/media",
    )
    query = dict(parse_qsl(url.query))
    assert query["sample-rate"] == "8000"
    assert (await gateway.runtime.tokens.redeem(query["token"], "exotel")).call_id == "ex1"
    wrong = {"Authorization": basic_authorization("exo", "guess")}
    refused = await gateway.handle_webhook(make_mocked_request("GET", path, headers=wrong))
    assert refused.status == 403


async def test_make_call_names_what_is_missing_before_creating_anything() -> None:
    gateway = await _started(_twilio())
    with pytest.raises(
        ConfigError, match=r"^OMNIVOICE_PUBLIC_URL: twilio make_call needs a public URL$"
    ):
        await gateway.make_call("+15550100")
    gateway = await _started(_twilio(), public_base_url=BASE)
    with pytest.raises(
        ConfigError, match=r"^TWILIO_ACCOUNT_SID: required for make_call on twilio but not set$"
    ):
        await gateway.make_call("+15550100")
    assert await gateway.runtime.tokens.pending() == 0
    assert gateway.list_sessions() == []


class _PlivoDialler(PlivoRestClient):
    """Records the dial instead of sending it."""

    def __init__(self) -> None:
        super().__init__(auth_id="MA1", auth_token="tok")
        self.dials: list[dict[str, str]] = []

    async def make_call(
        self, *, to: str, from_: str, answer_url: str, hangup_url: str | None = None
    ) -> str:
        self.dials.append({"to": to, "from": from_, "answer_url": answer_url})
        return "request-uuid-1"


async def test_a_dialled_call_is_answered_without_asking_the_handler() -> None:
    """Plivo fetches our answer URL for the calls we dial: ``?pending=`` names our call,
    which gets the stream markup (and a token for the pending id) without the handler."""
    rest = _PlivoDialler()
    profile = PlivoProfile(
        settings=PlivoSettings(auth_token="pt", from_number="+15550000"), rest=rest
    )
    gateway = await _started(profile, public_base_url=BASE, guard=dialling_guard())
    asked: list[CallInfo] = []
    gateway.on_call(asked.append)
    session = await gateway.make_call("+15551234")
    assert session.id == "request-uuid-1"
    (dial,) = rest.dials
    assert (dial["to"], dial["from"]) == ("+15551234", "+15550000")
    pending = dial["answer_url"].split("?pending=")[1]
    assert dial["answer_url"] == f"{BASE}/carriers/plivo/answer?pending={pending}"
    fields = {
        "CallUUID": "real-uuid",
        "From": "15550000",
        "To": "15551234",
        "Direction": "outbound",
    }
    url = dial["answer_url"]
    hook = WebhookRequest(
        method="POST",
        url=url,
        headers={
            "X-Plivo-Signature-V3": compute_signature_v3(
                auth_token="pt", url=url, nonce="1", method="POST", params=fields
            ),
            "X-Plivo-Signature-V3-Nonce": "1",
        },
        query=[("pending", pending)],
        form=fields,
        raw_body=urlencode(fields).encode(),
    )
    answer = await gateway.answer_webhook(hook, base_url=BASE)
    assert answer.status == 200
    assert "<Stream" in answer.body
    assert ">wss://voice.example.com/carriers/plivo/media</Stream>" in answer.body
    assert asked == []
    await gateway.stop()


def test_the_room_factory_is_injectable() -> None:
    made: list[tuple[CallRoomSpec, RoomCallbacks]] = []
    sentinel: Any = object()

    def factory(spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        made.append((spec, callbacks))
        result: CallRoomBase = sentinel
        return result

    runtime = ShimRuntime(livekit=LiveKitSettings(), agent_name="a", room_factory=factory)
    spec: Any = object()
    callbacks = RoomCallbacks()
    assert runtime.new_room(spec, callbacks) is sentinel
    assert made == [(spec, callbacks)]


def test_custom_parameters_become_prefixed_attributes_without_the_token() -> None:
    assert call_parameter_attributes({"token": "secret", "customer": "42", "": "x"}) == {
        "omnivoice.param.customer": "42"
    }


async def test_the_callers_attributes_carry_the_streams_custom_parameters() -> None:
    """run_stream puts the start message's custom parameters (Twilio ``<Parameter>``) in the
    caller participant's attributes under ``omnivoice.param.``; the token stays out."""
    specs: list[CallRoomSpec] = []

    def factory(spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        specs.append(spec)
        return FakeCallRoom(spec=spec, callbacks=callbacks)

    gateway = await _started(_twilio(), room_factory=factory)
    start = Start(
        call_id="CA9",
        stream_id="MZ9",
        custom_parameters={"token": "t0k", "customer_id": "c-17", "lang": "en"},
        media_format=TWILIO,
        wire_encoding="audio/x-mulaw",
    )
    opened = OpenedStream(
        carrier="twilio",
        profile=gateway.profile,
        codec=TwilioCodec(stream_id="MZ9"),
        opening=start,
        grant=StreamGrant(
            call_id="CA9",
            carrier="twilio",
            issued_at=0.0,
            context={"from": "+15550100", "to": "+15550199", "direction": "inbound"},
        ),
        start=start,
    )
    ws = FakeMediaSocket()
    ws.feed_close()
    await asyncio.wait_for(gateway.run_stream(ws, opened, CallCounters()), 10)
    assert specs[0].attributes == {
        "carrier": "twilio",
        "call_id": "CA9",
        "from": "+15550100",
        "to": "+15550199",
        "direction": "inbound",
        "omnivoice.param.customer_id": "c-17",
        "omnivoice.param.lang": "en",
    }
