"""Carrier REST clients against a loopback fake (real aiohttp server on 127.0.0.1):
the exact request each carrier would receive (method, path, auth, body), success and
"already ended" handling, and errors carrying HTTP status + carrier code.

Marked integration: it opens loopback sockets (unit tests open none).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelRestClient, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoRestClient
from omnivoice_rtc.carriers.profile import DialRequest
from omnivoice_rtc.carriers.telnyx import TelnyxRestClient
from omnivoice_rtc.carriers.twilio import TwilioRestClient, twiml_stream
from omnivoice_rtc.carriers.vonage import ncco_websocket
from omnivoice_rtc.carriers.vonage_rest import VonageRestClient
from tests.fakes.carrier_rest import CarrierRestFake

pytestmark = pytest.mark.integration


@pytest.fixture
async def fake() -> AsyncIterator[CarrierRestFake]:
    async with CarrierRestFake() as server:
        yield server


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ------------------------------------------------------------------ Twilio


async def test_twilio_make_call_and_hangup(fake: CarrierRestFake) -> None:
    calls = "/2010-04-01/Accounts/AC123/Calls.json"
    fake.respond("POST", calls, 201, {"sid": "CA999", "status": "queued"})
    fake.respond("POST", "/2010-04-01/Accounts/AC123/Calls/CA999.json", 200, {"sid": "CA999"})
    twiml = twiml_stream(url="wss://voice.example.com/media/twilio", parameters={"token": "t1"})
    async with TwilioRestClient(
        account_sid="AC123", auth_token="tok", base_url=fake.base_url
    ) as client:
        assert await client.make_call(to="+15550100", from_="+15550199", twiml=twiml) == "CA999"
        assert await client.hangup("CA999") is True
    dial, hang = fake.requests
    assert (dial.method, dial.path) == ("POST", calls)
    assert dial.headers["Authorization"] == _basic("AC123", "tok")
    assert dial.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dial.form() == [("To", "+15550100"), ("From", "+15550199"), ("Twiml", twiml)]
    assert (hang.method, hang.path, hang.form()) == (
        "POST",
        "/2010-04-01/Accounts/AC123/Calls/CA999.json",
        [("Status", "completed")],
    )


async def test_twilio_already_ended_and_errors(fake: CarrierRestFake) -> None:
    fake.respond(
        "POST",
        "/2010-04-01/Accounts/AC123/Calls/CAgone.json",
        404,
        {"code": 20404, "message": "The requested resource was not found", "status": 404},
    )
    fake.respond(
        "POST",
        "/2010-04-01/Accounts/AC123/Calls.json",
        401,
        {"code": 20003, "message": "Authenticate"},
    )
    async with TwilioRestClient(
        account_sid="AC123", auth_token="bad", base_url=fake.base_url
    ) as client:
        assert await client.hangup("CAgone") is False
        with pytest.raises(CarrierRestError) as info:
            await client.make_call(to="+1", from_="+2", twiml="<Response/>")
    assert (info.value.status, info.value.code, info.value.carrier) == (401, "20003", "twilio")
    assert str(info.value) == (
        "twilio: POST /2010-04-01/Accounts/AC123/Calls.json returned HTTP 401 (code 20003): Authenticate"
    )


# ------------------------------------------------------------------ Telnyx


def _telnyx_stream_fields(token: bytes) -> dict[str, str]:
    """What Telnyx dial and answer both carry: the bidirectional RTP stream and the token."""
    return {
        "stream_url": "wss://voice.example.com/media/telnyx",
        "stream_track": "inbound_track",
        "stream_bidirectional_mode": "rtp",
        "stream_bidirectional_codec": "PCMU",
        "client_state": base64.b64encode(token).decode(),
    }


async def test_telnyx_make_call_and_hangup(fake: CarrierRestFake) -> None:
    fake.respond(
        "POST", "/v2/calls", 200, {"data": {"call_control_id": "v3:cc1", "call_leg_id": "l"}}
    )
    fake.respond("POST", "/v2/calls/v3:cc1/actions/hangup", 200, {"data": {"result": "ok"}})
    fake.respond(
        "POST",
        "/v2/calls/v3:gone/actions/hangup",
        422,
        {"errors": [{"code": "90018", "title": "Call has already ended"}]},
    )
    async with TelnyxRestClient(api_key="KEY123", base_url=fake.base_url) as client:
        call_id = await client.make_call(
            to="+13125550100",
            from_="+13125550199",
            connection_id="conn-1",
            stream_url="wss://voice.example.com/media/telnyx",
            stream_token="tok123",
        )
        assert call_id == "v3:cc1"
        assert await client.hangup("v3:cc1") is True
        assert await client.hangup("v3:gone") is False
    dial, hang, _ = fake.requests
    assert (dial.method, dial.path) == ("POST", "/v2/calls")
    assert dial.headers["Authorization"] == "Bearer KEY123"
    assert dial.headers["Content-Type"] == "application/json"
    assert dial.json() == {
        "connection_id": "conn-1",
        "to": "+13125550100",
        "from": "+13125550199",
        **_telnyx_stream_fields(b"tok123"),
    }
    assert (hang.method, hang.path, hang.json()) == ("POST", "/v2/calls/v3:cc1/actions/hangup", {})


async def test_telnyx_answer_and_reject_a_parked_call(fake: CarrierRestFake) -> None:
    fake.respond("POST", "/v2/calls/v3:in1/actions/answer", 200, {"data": {"result": "ok"}})
    fake.respond("POST", "/v2/calls/v3:in2/actions/reject", 200, {"data": {"result": "ok"}})
    async with TelnyxRestClient(api_key="KEY123", base_url=fake.base_url) as client:
        await client.answer(
            "v3:in1", stream_url="wss://voice.example.com/media/telnyx", stream_token="tok9"
        )
        await client.reject("v3:in2", cause="USER_BUSY")
        with pytest.raises(
            ValueError,
            match=r"^telnyx: reject cause must be one of CALL_REJECTED, USER_BUSY, NOT_FOUND, "
            r"TEMPORARILY_UNAVAILABLE, got 'nope'$",
        ):
            await client.reject("v3:in2", cause="nope")
        with pytest.raises(CarrierRestError, match=r"actions/answer returned HTTP 404"):
            await client.answer("v3:unknown", stream_url="wss://voice.example.com/media/telnyx")
    answer, reject, _ = fake.requests
    assert (answer.method, answer.path) == ("POST", "/v2/calls/v3:in1/actions/answer")
    assert answer.headers["Authorization"] == "Bearer KEY123"
    assert answer.json() == {
        **_telnyx_stream_fields(b"tok9"),
        "stream_bidirectional_target_legs": "self",
        "send_silence_when_idle": True,
    }
    assert (reject.path, reject.json()) == (
        "/v2/calls/v3:in2/actions/reject",
        {"cause": "USER_BUSY"},
    )


async def test_telnyx_error_code(fake: CarrierRestFake) -> None:
    fake.respond(
        "POST", "/v2/calls", 401, {"errors": [{"code": "10009", "title": "Authentication failed"}]}
    )
    async with TelnyxRestClient(api_key="bad", base_url=fake.base_url) as client:
        with pytest.raises(CarrierRestError) as info:
            await client.make_call(to="+1", from_="+2", connection_id="c", stream_url="wss://h/p")
    assert (info.value.status, info.value.code) == (401, "10009")


# ------------------------------------------------------------------ Vonage


async def test_vonage_make_call_and_hangup(fake: CarrierRestFake) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    fake.respond(
        "POST", "/v1/calls", 201, {"uuid": "u-1", "status": "started", "direction": "outbound"}
    )
    fake.respond("PUT", "/v1/calls/u-1", 204)
    fake.respond(
        "PUT",
        "/v1/calls/u-gone",
        404,
        {"type": "https://developer.nexmo.com/api-errors#not-found", "title": "Not Found"},
    )
    ncco = ncco_websocket(uri="wss://voice.example.com/media/vonage", headers={"token": "t1"})
    async with VonageRestClient(
        application_id="app-1", private_key=pem, base_url=fake.base_url
    ) as client:
        assert await client.make_call(to="+447700900000", from_="447700900001", ncco=ncco) == "u-1"
        assert await client.hangup("u-1") is True
        assert await client.hangup("u-gone") is False
    dial, hang, _ = fake.requests
    assert (dial.method, dial.path) == ("POST", "/v1/calls")
    scheme, _, token = dial.headers["Authorization"].partition(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"])
    assert claims["application_id"] == "app-1"
    assert dial.json() == {
        "to": [{"type": "phone", "number": "447700900000"}],
        "from": {"type": "phone", "number": "447700900001"},
        "ncco": ncco,
    }
    assert (hang.method, hang.path, hang.json()) == ("PUT", "/v1/calls/u-1", {"action": "hangup"})
    assert (
        jwt.decode(
            hang.headers["Authorization"].removeprefix("Bearer "),
            key.public_key(),
            algorithms=["RS256"],
        )["application_id"]
        == "app-1"
    )


# ------------------------------------------------------------------ Plivo


async def test_plivo_make_call_and_hangup(fake: CarrierRestFake) -> None:
    fake.respond(
        "POST",
        "/v1/Account/MA123/Call/",
        201,
        {"api_id": "a", "message": "call fired", "request_uuid": "r-1"},
    )
    fake.respond("DELETE", "/v1/Account/MA123/Call/c-1/", 204)
    fake.respond(
        "DELETE", "/v1/Account/MA123/Call/c-gone/", 404, {"api_id": "a", "error": "not found"}
    )
    async with PlivoRestClient(auth_id="MA123", auth_token="tok", base_url=fake.base_url) as client:
        request_uuid = await client.make_call(
            to="+14155550100",
            from_="+14155550199",
            answer_url="https://voice.example.com/plivo/answer",
        )
        assert request_uuid == "r-1"
        assert await client.hangup("c-1") is True
        assert await client.hangup("c-gone") is False
    dial, hang, _ = fake.requests
    assert (dial.method, dial.path) == ("POST", "/v1/Account/MA123/Call/")
    assert dial.headers["Authorization"] == _basic("MA123", "tok")
    assert json.loads(dial.body) == {
        "from": "14155550199",
        "to": "14155550100",
        "answer_url": "https://voice.example.com/plivo/answer",
        "answer_method": "POST",
    }
    assert (hang.method, hang.path, hang.body) == ("DELETE", "/v1/Account/MA123/Call/c-1/", b"")


async def test_plivo_server_error(fake: CarrierRestFake) -> None:
    fake.respond("DELETE", "/v1/Account/MA123/Call/c-1/", 500, {"error": "internal"})
    async with PlivoRestClient(auth_id="MA123", auth_token="tok", base_url=fake.base_url) as client:
        with pytest.raises(CarrierRestError) as info:
            await client.hangup("c-1")
    assert info.value.status == 500
    assert (
        str(info.value) == "plivo: DELETE /v1/Account/MA123/Call/c-1/ returned HTTP 500: internal"
    )


# ------------------------------------------------------------------ Exotel


async def test_exotel_connect_voice_ai(fake: CarrierRestFake) -> None:
    """Connect Voice AI: ``From`` is the number to call, ``CallerId`` the ExoPhone, the
    stream URL carries the Basic credentials, the rate and the one-time token."""
    path = "/v1/Accounts/acme1/Calls/connect.json"
    fake.respond("POST", path, 200, {"Call": {"Sid": "c0ffee", "Status": "in-progress"}})
    settings = ExotelSettings(
        stream_user="exo",
        stream_password="pw",
        account_sid="acme1",
        api_key="KEY",
        api_token="TOKEN",
        from_number="08047491899",
        api_base_url=fake.base_url,
    )
    profile = ExotelProfile(settings=settings)
    dialled = await profile.dial(
        DialRequest(
            to="+919876543210",
            from_=settings.from_number,
            ws_url="wss://voice.example.com/carriers/exotel/media",
            answer_url="https://voice.example.com/carriers/exotel/answer?pending=p1",
            token="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        )
    )
    await profile.aclose()
    assert dialled.call_id == "c0ffee"
    (dial,) = fake.requests
    assert (dial.method, dial.path, dial.query) == ("POST", path, "")
    assert dial.headers["Authorization"] == _basic("KEY", "TOKEN")
    assert dial.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dial.form() == [
        ("From", "+919876543210"),
        ("CallerId", "08047491899"),
        (
            "StreamUrl",
            "wss://exo:pw@voice.example.com/carriers/exotel/media"
            "?sample-rate=8000&token=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        ),
        ("StreamType", "bidirectional"),
    ]


async def test_exotel_lowercase_reply_and_errors(fake: CarrierRestFake) -> None:
    path = "/v1/Accounts/acme1/Calls/connect.json"
    fake.respond("POST", path, 200, {"call": {"sid": "a1b2c3"}})
    async with ExotelRestClient(
        account_sid="acme1", api_key="k", api_token="t", base_url=fake.base_url
    ) as client:
        url = "wss://h/carriers/exotel/media?token=x"
        assert await client.connect_voice_ai(to="+91", caller_id="080", stream_url=url) == "a1b2c3"
        fake.respond(
            "POST",
            path,
            400,
            {"RestException": {"Status": 400, "Code": 34001, "Message": "Invalid CallerId"}},
        )
        with pytest.raises(CarrierRestError) as info:
            await client.connect_voice_ai(to="+91", caller_id="080", stream_url=url)
        assert (info.value.status, info.value.code, info.value.retryable) == (400, "34001", False)
        assert str(info.value) == (
            f"exotel: POST {path} returned HTTP 400 (code 34001): Invalid CallerId"
        )
        with pytest.raises(ValueError, match=r"^exotel: StreamUrl must be at most 600"):
            await client.connect_voice_ai(to="+91", caller_id="080", stream_url=url + "x" * 600)
    assert len(fake.requests) == 2


async def test_unreachable_server_is_a_rest_error() -> None:
    server = CarrierRestFake()
    base_url = await server.start()
    await server.aclose()  # nothing listens on that port any more
    async with TelnyxRestClient(api_key="k", base_url=base_url) as client:
        with pytest.raises(CarrierRestError) as info:
            await client.hangup("v3:x")
    assert (info.value.status, info.value.code) == (0, None)
    assert str(info.value).startswith("telnyx: POST /v2/calls/v3:x/actions/hangup failed: ")
