"""What a simulated carrier sends and reads around a call, as pure functions: answer
webhook fields, webhook signature headers, Telnyx Call Control events, and the stream
target read from answer markup (reference sections 1-4)."""

from __future__ import annotations

import json
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc.carriers import plivo as plivo_api
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers import twilio as twilio_api
from omnivoice_rtc.media_streams.messages import Carrier
from omnivoice_rtc.media_streams.plivo import parse_extra_headers

__all__ = [
    "CallParties",
    "call_control_event",
    "signature_headers",
    "stream_target_from_markup",
    "webhook_fields",
]


@dataclass(frozen=True, slots=True)
class CallParties:
    """Who calls whom, on which carrier, under which call id."""

    carrier: Carrier
    call_id: str
    caller: str
    callee: str


def webhook_fields(call: CallParties) -> dict[str, str]:
    """The answer webhook's fields as the carrier sends them for an inbound call."""
    if call.carrier == "twilio":
        return {
            "CallSid": call.call_id,
            "AccountSid": "AC" + "0" * 32,
            "From": call.caller,
            "To": call.callee,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
    if call.carrier == "telnyx":
        return {
            "CallSid": call.call_id,
            "AccountSid": secrets.token_hex(8),
            "From": call.caller,
            "To": call.callee,
            "CallStatus": "ringing",
            "Direction": "inbound",
        }
    if call.carrier == "vonage":
        return {
            "to": call.callee.lstrip("+"),
            "from": call.caller.lstrip("+"),
            "uuid": call.call_id,
            "conversation_uuid": "CON-" + call.call_id,
        }
    return {
        "CallUUID": call.call_id,
        "From": call.caller.lstrip("+"),
        "To": call.callee.lstrip("+"),
        "Direction": "inbound",
        "CallStatus": "ringing",
    }


def signature_headers(
    carrier: Carrier,
    secrets_: Any,
    *,
    url: str,
    fields: dict[str, str],
    body: bytes,
    wrong: bool,
) -> dict[str, str]:
    """The headers that sign a form webhook (Twilio, Telnyx TeXML, Plivo); ``wrong``
    signs with the wrong key. ``secrets_`` is a :class:`CarrierSecrets`."""
    if carrier == "twilio":
        token = "wrong" if wrong else secrets_.twilio_auth_token
        return {"X-Twilio-Signature": twilio_api.compute_signature(token, url, fields)}
    if carrier == "telnyx":
        key = Ed25519PrivateKey.generate() if wrong else secrets_.telnyx_private_key
        ts = str(int(time.time()))
        return {
            "telnyx-timestamp": ts,
            "telnyx-signature-ed25519": telnyx_api.sign_webhook(key, ts, body),
        }
    nonce = str(secrets.randbelow(10**20))
    token = "wrong" if wrong else secrets_.plivo_auth_token
    sig = plivo_api.compute_signature_v3(
        auth_token=token, url=url, nonce=nonce, method="POST", params=fields
    )
    return {"X-Plivo-Signature-V3": sig, "X-Plivo-Signature-V3-Nonce": nonce}


def stream_target_from_markup(carrier: Carrier, markup: str) -> tuple[str, dict[str, str], int]:
    """Read answer markup as the carrier would: (stream URL, parameters, rate in Hz)."""
    if carrier == "vonage":
        ncco: list[dict[str, Any]] = json.loads(markup)
        endpoint = ncco[0]["endpoint"][0]
        rate = int(endpoint["content-type"].split("rate=")[1])
        return endpoint["uri"], dict(endpoint.get("headers", {})), rate
    root = ET.fromstring(markup)
    if carrier == "plivo":
        stream = root.find("Stream")
        assert stream is not None
        assert stream.text
        headers = parse_extra_headers(stream.get("extraHeaders", ""))
        return stream.text.strip(), headers, 8000
    stream = root.find("Connect/Stream")
    assert stream is not None
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), params, 8000


def call_control_event(
    call: CallParties,
    event_type: str,
    *,
    direction: Literal["incoming", "outgoing"],
    delivered_to: str,
) -> bytes:
    """A Telnyx Call Control webhook body about ``call`` (``call.initiated`` offers a parked
    call; the others report on it)."""
    assert call.carrier == "telnyx"
    return json.dumps(
        {
            "data": {
                "event_type": event_type,
                "id": secrets.token_hex(16),
                "occurred_at": "2026-12-03T08:00:00.000000Z",
                "record_type": "event",
                "payload": {
                    "call_control_id": call.call_id,
                    "call_leg_id": "leg-" + call.call_id[-8:],
                    "call_session_id": "session-" + call.call_id[-8:],
                    "connection_id": "conn-1",
                    "from": call.caller,
                    "to": call.callee,
                    "direction": direction,
                    "state": "parked" if event_type == "call.initiated" else "answered",
                },
            },
            "meta": {"attempt": 1, "delivered_to": delivered_to},
        }
    ).encode()
