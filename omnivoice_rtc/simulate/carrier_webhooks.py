"""What a simulated carrier sends and reads around a call, as pure functions: the secrets it
signs with, its call ids, stream codecs and wire encodings, answer webhook fields, webhook
signature headers (Exotel: HTTP Basic), Telnyx Call Control events, and the stream target
read from answer markup (reference sections 1-4; Exotel: developer.exotel.com/docs/agentstream)."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc._errors import ProtocolError
from omnivoice_rtc.carriers import exotel as exotel_api
from omnivoice_rtc.carriers import plivo as plivo_api
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers import twilio as twilio_api
from omnivoice_rtc.media_streams.exotel import ExotelCodec
from omnivoice_rtc.media_streams.messages import MediaStreamCodec
from omnivoice_rtc.media_streams.plivo import PlivoCodec, parse_extra_headers
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec

__all__ = [
    "WIRE_ENCODINGS",
    "CallParties",
    "CarrierSecrets",
    "call_control_event",
    "exotel_headers",
    "new_call_id",
    "signature_headers",
    "stream_codec",
    "stream_target_from_markup",
    "webhook_fields",
]


WIRE_ENCODINGS: Final = {
    "twilio": "audio/x-mulaw",
    "telnyx": "PCMU",
    "plivo": "audio/x-mulaw",
    "exotel": "audio/x-raw",
}
"""Each carrier's ``start`` encoding label (Vonage has no ``start``)."""


@dataclass(frozen=True, slots=True)
class CarrierSecrets:
    """What each carrier signs with; the server is configured with the public halves
    (Exotel: the Basic credentials it presents, configured on both sides)."""

    twilio_auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    telnyx_private_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    vonage_signature_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    vonage_api_key: str = "abcd1234"
    plivo_auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    exotel_user: str = "exotel-sim"
    exotel_password: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def telnyx_public_key(self) -> str:
        raw = self.telnyx_private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()


def new_call_id(carrier: str) -> str:
    """A call id shaped like the carrier's own."""
    if carrier == "twilio":
        return "CA" + secrets.token_hex(16)
    if carrier == "telnyx":
        return "v3:" + secrets.token_urlsafe(18)
    if carrier == "exotel":
        return secrets.token_hex(16)
    return str(uuid.uuid4())


def stream_codec(carrier: str, stream_id: str, rate: int) -> MediaStreamCodec:
    """The codec the carrier's side of a stream speaks (``rate``: Vonage, Exotel)."""
    if carrier == "twilio":
        return TwilioCodec(stream_id=stream_id)
    if carrier == "telnyx":
        return TelnyxCodec(stream_id=stream_id)
    if carrier == "vonage":
        return VonageCodec(sample_rate=rate)
    if carrier == "exotel":
        return ExotelCodec(stream_id=stream_id, sample_rate=rate)
    return PlivoCodec(stream_id=stream_id)


@dataclass(frozen=True, slots=True)
class CallParties:
    """Who calls whom, on which carrier, under which call id."""

    carrier: str
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
    if call.carrier == "exotel":  # the Voicebot applet asking our https endpoint [?]
        return {
            "CallSid": call.call_id,
            "CallFrom": call.caller,
            "CallTo": call.callee,
            "Direction": "incoming",
            "CallStatus": "in-progress",
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
    carrier: str,
    secrets_: Any,
    *,
    url: str,
    fields: dict[str, str],
    body: bytes,
    wrong: bool,
) -> dict[str, str]:
    """The headers that sign a form webhook (Twilio, Telnyx TeXML, Plivo) or carry Exotel's
    Basic credentials; ``wrong`` signs with the wrong key. ``secrets_`` is a
    :class:`CarrierSecrets`."""
    if carrier == "exotel":
        return exotel_headers(secrets_, wrong=wrong)
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


def exotel_headers(secrets_: Any, *, wrong: bool = False) -> dict[str, str]:
    """``Authorization: Basic`` as Exotel sends the credentials in the applet's URL."""
    password = "wrong" if wrong else secrets_.exotel_password
    return {"Authorization": exotel_api.basic_authorization(secrets_.exotel_user, password)}


def stream_target_from_markup(carrier: str, markup: str) -> tuple[str, dict[str, str], int]:
    """Read answer markup as the carrier would: (stream URL, parameters, rate in Hz);
    ProtocolError when the markup names no stream (e.g. a reject).

    Exotel's answer is ``{"url": ...}``: its credentials become the Basic header (the
    simulator sends it), its query parameters the ``start.custom_parameters`` (but
    ``sample-rate``, which sets the rate)."""
    try:
        return _stream_target(carrier, markup)
    except (KeyError, IndexError, TypeError, ValueError, ET.ParseError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"{carrier}: the answer names no media stream ({exc!r})") from exc


def _stream_target(carrier: str, markup: str) -> tuple[str, dict[str, str], int]:
    if carrier == "exotel":
        parts = urlsplit(json.loads(markup)["url"])
        query = dict(parse_qsl(parts.query))
        rate = int(query.pop("sample-rate", "8000"))
        host = parts.netloc.rpartition("@")[2]
        url = urlunsplit((parts.scheme, host, parts.path, parts.query, ""))
        return url, query, rate
    if carrier == "vonage":
        ncco: list[dict[str, Any]] = json.loads(markup)
        endpoint = ncco[0]["endpoint"][0]
        rate = int(endpoint["content-type"].split("rate=")[1])
        return endpoint["uri"], dict(endpoint.get("headers", {})), rate
    root = ET.fromstring(markup)
    if carrier == "plivo":
        stream = root.find("Stream")
        if stream is None or not stream.text:
            raise ProtocolError("plivo: the answer has no <Stream> with a URL")
        headers = parse_extra_headers(stream.get("extraHeaders", ""))
        return stream.text.strip(), headers, 8000
    stream = root.find("Connect/Stream")
    if stream is None:
        raise ProtocolError(f"{carrier}: the answer has no <Connect><Stream>")
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
    if call.carrier != "telnyx":
        raise ValueError(f"call control events are Telnyx's, not {call.carrier}'s")
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
