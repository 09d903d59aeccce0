"""Exotel: HTTP Basic auth (constant-time compare), the stream URL answer, the applet's
request -> CallInfo, settings, and the profile's webhook side."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from omnivoice_rtc._errors import ConfigError, SignatureError
from omnivoice_rtc.carriers.exotel import (
    ExotelProfile,
    ExotelSettings,
    basic_authorization,
    parse_stream_webhook,
    stream_url,
    verify_basic_auth,
)
from omnivoice_rtc.carriers.profile import WebhookRequest

pytestmark = pytest.mark.unit

USER, PASSWORD = "exotel", "s3cret:with/odd@chars"
FIELDS = {
    "CallSid": "b6cbc0f2a34b4a2d8b2b0e2a7f4c9a1d",
    "CallFrom": "09876543210",
    "CallTo": "08047491899",
    "Direction": "incoming",
    "CallStatus": "in-progress",
}


def _settings(**kw: object) -> ExotelSettings:
    return ExotelSettings(stream_user=USER, stream_password=PASSWORD, **kw)  # type: ignore[arg-type]  # reason: test kwargs


def _request(authorization: str | None, query: dict[str, str] | None = None) -> WebhookRequest:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return WebhookRequest(
        method="GET",
        url="https://voice.example.com/carriers/exotel/answer",
        headers=headers,
        query=list((query if query is not None else FIELDS).items()),
        form={},
        raw_body=b"",
    )


def test_basic_auth_accepts_only_the_configured_pair() -> None:
    good = basic_authorization(USER, PASSWORD)
    assert good == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    verify_basic_auth(user=USER, password=PASSWORD, authorization=good)
    verify_basic_auth(user=USER, password=PASSWORD, authorization="basic " + good[6:])
    cases = [
        (None, "exotel: missing Authorization: Basic credentials"),
        ("Bearer abc", "exotel: missing Authorization: Basic credentials"),
        ("Basic @@@", "exotel: Authorization: Basic is not Base64"),
        (basic_authorization(USER, "wrong"), "exotel: invalid Basic credentials"),
        (basic_authorization("other", PASSWORD), "exotel: invalid Basic credentials"),
    ]
    for header, message in cases:
        with pytest.raises(SignatureError, match=r".") as info:
            verify_basic_auth(user=USER, password=PASSWORD, authorization=header)
        assert str(info.value) == message, header


def test_stream_url_carries_credentials_rate_and_token() -> None:
    url = stream_url(
        ws_url="wss://voice.example.com/carriers/exotel/media",
        user=USER,
        password=PASSWORD,
        sample_rate=16000,
        parameters={"token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.path) == (
        "wss",
        "voice.example.com",
        "/carriers/exotel/media",
    )
    assert (parts.username, parts.password) == ("exotel", "s3cret%3Awith%2Fodd%40chars")
    assert parse_qsl(parts.query) == [
        ("sample-rate", "16000"),
        ("token", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    ]
    with pytest.raises(ValueError, match=r"^exotel: at most 3 custom parameters"):
        stream_url(
            ws_url="wss://h/m",
            user="",
            password="",
            sample_rate=8000,
            parameters={"a": "1", "b": "2", "c": "3", "d": "4"},
        )
    with pytest.raises(ValueError, match=r"^exotel: stream URL must not contain a query string"):
        stream_url(ws_url="wss://h/m?x=1", user="", password="", sample_rate=8000, parameters={})
    with pytest.raises(ValueError, match=r"^exotel: sample_rate must be 8000, 16000 or 24000"):
        stream_url(ws_url="wss://h/m", user="", password="", sample_rate=44100, parameters={})


def test_applet_request_to_call_info() -> None:
    call = parse_stream_webhook(FIELDS)
    assert (call.call_id, call.from_, call.to, call.direction, call.carrier) == (
        FIELDS["CallSid"],
        "09876543210",
        "08047491899",
        "inbound",
        "exotel",
    )
    assert call.attributes == {"CallStatus": "in-progress", "Direction": "incoming"}
    outbound = parse_stream_webhook(
        {"CallSid": "x", "From": "1", "To": "2", "Direction": "outbound-api"}
    )
    assert (outbound.from_, outbound.to, outbound.direction) == ("1", "2", "outbound")
    with pytest.raises(ValueError, match=r"^exotel: webhook is missing CallSid$"):
        parse_stream_webhook({"CallFrom": "1"})


def test_settings_from_the_environment() -> None:
    empty = ExotelSettings.from_env({})
    assert (empty.enabled, empty.is_configured, empty.sample_rate) == (False, False, 8000)
    assert empty.api_base_url == "https://api.exotel.com"
    env = {
        "EXOTEL_STREAM_USER": "u",
        "EXOTEL_STREAM_PASSWORD": "pw",
        "EXOTEL_ACCOUNT_SID": "acme1",
        "EXOTEL_API_KEY": "key",
        "EXOTEL_API_TOKEN": "tok-secret",
        "EXOTEL_FROM_NUMBER": "08047491899",
        "EXOTEL_API_BASE_URL": "https://api.in.exotel.com/",
        "EXOTEL_SAMPLE_RATE": "16000",
    }
    s = ExotelSettings.from_env(env).require()
    assert (s.enabled, s.sample_rate, s.api_base_url) == (True, 16000, "https://api.in.exotel.com")
    assert "tok-secret" not in repr(s)
    assert "pw" not in repr(s)
    bad = [
        (
            {"EXOTEL_STREAM_PASSWORD": "pw"},
            r"^EXOTEL_STREAM_USER: required with EXOTEL_STREAM_PASSWORD$",
        ),
        (
            {"EXOTEL_STREAM_USER": "a:b", "EXOTEL_STREAM_PASSWORD": "pw"},
            r"^EXOTEL_STREAM_USER: must not contain ':'",
        ),
        (
            {"EXOTEL_SAMPLE_RATE": "44100"},
            r"^EXOTEL_SAMPLE_RATE: must be 8000, 16000 or 24000, got '44100'$",
        ),
    ]
    for values, pattern in bad:
        with pytest.raises(ConfigError, match=pattern):
            ExotelSettings.from_env(values)


async def test_profile_verifies_and_answers_with_the_stream_url() -> None:
    profile = ExotelProfile(settings=_settings(sample_rate=16000))
    assert profile.rest is None
    assert not profile.can_hang_up
    assert profile.outbound_frame_ms == 100
    call = profile.verify(_request(basic_authorization(USER, PASSWORD)))
    assert call.call_id == FIELDS["CallSid"]
    for header in (None, basic_authorization(USER, "nope")):
        with pytest.raises(SignatureError):
            profile.verify(_request(header))
    answer = await profile.accept(
        call, ws_url="wss://voice.example.com/carriers/exotel/media", token="t0k"
    )
    assert (answer.status, answer.content_type) == (200, "application/json")
    url = urlsplit(json.loads(answer.body)["url"])
    assert (url.scheme, url.netloc.rpartition("@")[2], url.path) == (
        "wss",
        "voice.example.com",
        "/carriers/exotel/media",
    )
    assert dict(parse_qsl(url.query)) == {"sample-rate": "16000", "token": "t0k"}
    rejected = await profile.reject(call, "busy")
    assert (rejected.status, json.loads(rejected.body)) == (
        404,
        {"error": "call rejected", "reason": "busy"},
    )


def test_profile_checks_the_websocket_upgrade() -> None:
    profile = ExotelProfile(settings=_settings())
    profile.verify_upgrade({"Authorization": basic_authorization(USER, PASSWORD)})
    with pytest.raises(SignatureError, match=r"^exotel: invalid Basic credentials$"):
        profile.verify_upgrade({"Authorization": basic_authorization(USER, "x")})
    with pytest.raises(SignatureError, match=r"^exotel: missing Authorization"):
        profile.verify_upgrade({})


async def test_hangup_is_closing_the_socket_even_with_rest() -> None:
    """Exotel documents no REST hang-up for these calls: with REST credentials the profile
    can dial, but hanging up is left to closing the socket."""
    profile = ExotelProfile(
        settings=_settings(account_sid="acme1", api_key="k", api_token="t", from_number="080")
    )
    assert profile.rest is not None
    assert not profile.can_hang_up
    await profile.hangup("b6cbc0f2")  # no request (api.exotel.com is unreachable here)
    await profile.aclose()
