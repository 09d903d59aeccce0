"""The gateway's answer webhook without sockets (:mod:`omnivoice_rtc.shim.webhook_answer`):
verify, ask the handler, answer or refuse.

Webhooks are neutral :class:`WebhookRequest` values (``answer_webhook``) or aiohttp's mocked
requests (``handle_webhook``); the gateway comes from the harness in
``test_media_stream_gateway.py``.
"""

from __future__ import annotations

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
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelSettings, basic_authorization
from omnivoice_rtc.carriers.profile import WebhookRequest
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxSettings
from omnivoice_rtc.carriers.twilio import compute_signature
from omnivoice_rtc.types import CallInfo
from tests.unit.shim.test_media_stream_gateway import (
    BASE,
    TWILIO_TOKEN,
    _gateway,
    _started,
    _twilio,
)

pytestmark = pytest.mark.unit

TWILIO_FIELDS = {
    "CallSid": "CA1",
    "From": "+15550100",
    "To": "+15550199",
    "Direction": "inbound",
    "CallStatus": "ringing",
}


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
