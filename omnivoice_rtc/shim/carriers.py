"""Per-carrier adapters: webhook check + CallInfo, accept/reject markup, dial, hang up.

An adapter turns the carriers package's pure functions (signatures, markup, webhook
parsing) and REST clients into the handful of operations the gateway needs. Everything
wire-specific stays in :mod:`omnivoice_rtc.carriers` and :mod:`omnivoice_rtc.media_streams`.

Webhooks answered here:

=========  ===========================================  =====================================
carrier    signature                                    accept / reject
=========  ===========================================  =====================================
twilio     ``X-Twilio-Signature`` (form POST or GET)    TwiML ``<Connect><Stream>`` / ``<Reject>``
telnyx     Ed25519 ``telnyx-signature-ed25519``         TeXML ``<Connect><Stream rtp>`` / ``<Reject>``;
                                                        Call Control: REST ``answer`` / ``reject``
vonage     ``Authorization: Bearer`` HS256 JWT          NCCO ``connect`` websocket / ``[]``
plivo      ``X-Plivo-Signature-V3`` + nonce             ``<Stream bidirectional>`` / ``<Hangup>``
=========  ===========================================  =====================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from multidict import MultiDictProxy

from omnivoice_rtc.carriers import plivo as plivo_api
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers import twilio as twilio_api
from omnivoice_rtc.carriers import vonage as vonage_api
from omnivoice_rtc.media_streams.messages import Carrier, MediaStreamCodec
from omnivoice_rtc.media_streams.plivo import PlivoCodec
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec
from omnivoice_rtc.shim.handshake import TOKEN_PARAMETER
from omnivoice_rtc.types import CallInfo

__all__ = [
    "CarrierAdapter",
    "Dialled",
    "PlivoAdapter",
    "TelnyxAdapter",
    "TwilioAdapter",
    "VonageAdapter",
    "WebhookRequest",
]

_XML = "text/xml"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRequest:
    """A webhook as received: ``url`` is the public URL the carrier requested (scheme,
    host, path, query) as used for signatures; ``form`` the POST form fields (empty for
    GET/JSON); ``raw_body`` the exact bytes."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: list[tuple[str, str]]
    form: Mapping[str, str]
    raw_body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialled:
    """An outbound call placed over REST: the carrier's id for it."""

    call_id: str


class CarrierAdapter(Protocol):
    """What the gateway needs from one carrier."""

    @property
    def carrier(self) -> Carrier: ...
    def verify(self, request: WebhookRequest) -> CallInfo:
        """Check the signature (SignatureError) and parse the call (ValueError)."""
        ...

    def is_new_call(self, call: CallInfo) -> bool:
        """False for a webhook that only reports on a call (answered, hung up, ...): it is
        acknowledged and asks nobody anything."""
        ...

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> web.Response: ...
    async def reject(self, call: CallInfo, reason: str) -> web.Response: ...
    def codec(self) -> MediaStreamCodec: ...
    async def dial(
        self, *, to: str, from_: str, ws_url: str, answer_url: str, token: str
    ) -> Dialled: ...
    async def hangup(self, call_id: str) -> None: ...
    async def aclose(self) -> None: ...


def _reason(reason: str) -> str:
    return reason if reason in ("busy", "rejected") else "rejected"


def _form(request: WebhookRequest) -> dict[str, str]:
    fields = dict(request.query) if request.method == "GET" else {}
    fields.update(request.form)
    return fields


class _RestCallControl(Protocol):
    async def hangup(self, call_id: str, /) -> bool: ...
    async def aclose(self) -> None: ...


class _CallControlAdapter:
    """What every adapter shares: hang-up and close through its optional REST client."""

    rest: _RestCallControl | None

    def is_new_call(self, call: CallInfo) -> bool:
        return True

    async def hangup(self, call_id: str) -> None:
        if self.rest is not None:
            await self.rest.hangup(call_id)

    async def aclose(self) -> None:
        if self.rest is not None:
            await self.rest.aclose()


def _json_object(request: WebhookRequest, carrier: str) -> dict[str, Any]:
    """The webhook's JSON body; ValueError when it is not a JSON object."""
    try:
        body = json.loads(request.raw_body)
    except json.JSONDecodeError:
        raise ValueError(f"{carrier}: webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError(f"{carrier}: webhook JSON must be an object")
    return body


class TwilioAdapter(_CallControlAdapter):
    """Twilio: ``auth_token`` signs webhooks; ``rest`` places and ends calls (optional)."""

    carrier: Carrier = "twilio"

    def __init__(self, *, auth_token: str, rest: twilio_api.TwilioRestClient | None = None) -> None:
        self._auth_token = auth_token
        self.rest = rest

    def verify(self, request: WebhookRequest) -> CallInfo:
        twilio_api.validate_signature(
            auth_token=self._auth_token,
            url=request.url,
            signature=request.headers.get("X-Twilio-Signature"),
            params=request.form if request.method == "POST" else None,
            body=request.raw_body if not request.form else None,
        )
        return twilio_api.parse_call_webhook(_form(request))

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> web.Response:
        twiml = twilio_api.twiml_stream(url=ws_url, parameters={TOKEN_PARAMETER: token})
        return web.Response(text=twiml, content_type=_XML)

    async def reject(self, call: CallInfo, reason: str) -> web.Response:
        return web.Response(text=twilio_api.twiml_reject(_reason(reason)), content_type=_XML)

    def codec(self) -> MediaStreamCodec:
        return TwilioCodec()

    async def dial(
        self, *, to: str, from_: str, ws_url: str, answer_url: str, token: str
    ) -> Dialled:
        rest = _require(self.rest, self.carrier)
        twiml = twilio_api.twiml_stream(url=ws_url, parameters={TOKEN_PARAMETER: token})
        return Dialled(call_id=await rest.make_call(to=to, from_=from_, twiml=twiml))


class TelnyxAdapter(_CallControlAdapter):
    """Telnyx, both of its webhook styles at one URL:

    * **TeXML** (form webhooks): answered with ``<Connect><Stream>`` markup.
    * **Call Control** (JSON ``call.initiated``; the call waits parked): answered over REST,
      ``actions/answer`` with the stream and the token as ``client_state``, or
      ``actions/reject``; needs ``rest``. Call Control's other events (``call.answered``,
      ``call.hangup``, ``streaming.*``, and ``call.initiated`` of calls we dialled) are
      acknowledged with 200 and nothing else.

    ``public_key`` (Base64 Ed25519) checks every webhook; ``connection_id`` is the Call
    Control app used by :meth:`dial`."""

    carrier: Carrier = "telnyx"

    def __init__(
        self,
        *,
        public_key: str,
        rest: telnyx_api.TelnyxRestClient | None = None,
        connection_id: str = "",
    ) -> None:
        self._public_key = public_key
        self.rest = rest
        self._connection_id = connection_id

    def verify(self, request: WebhookRequest) -> CallInfo:
        telnyx_api.verify_signature(
            public_key=self._public_key,
            signature=request.headers.get("telnyx-signature-ed25519"),
            timestamp=request.headers.get("telnyx-timestamp"),
            raw_body=request.raw_body,
        )
        if request.form or request.method == "GET":
            return telnyx_api.parse_texml_webhook(_form(request))
        return telnyx_api.parse_call_control_webhook(_json_object(request, self.carrier))

    def is_new_call(self, call: CallInfo) -> bool:
        if not _is_call_control(call):
            return True  # TeXML only calls the answer URL to offer a call
        return call.attributes["event_type"] == "call.initiated" and call.direction == "inbound"

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> web.Response:
        if not _is_call_control(call):
            texml = telnyx_api.texml_stream(url=ws_url, parameters={TOKEN_PARAMETER: token})
            return web.Response(text=texml, content_type=_XML)
        rest = _require(self.rest, self.carrier, "answering a Call Control call")
        await rest.answer(call.call_id, stream_url=ws_url, stream_token=token)
        return web.json_response({})

    async def reject(self, call: CallInfo, reason: str) -> web.Response:
        if not _is_call_control(call):
            return web.Response(text=telnyx_api.texml_reject(_reason(reason)), content_type=_XML)
        cause = "USER_BUSY" if _reason(reason) == "busy" else "CALL_REJECTED"
        rest = _require(self.rest, self.carrier, "rejecting a Call Control call")
        await rest.reject(call.call_id, cause=cause)
        return web.json_response({})

    def codec(self) -> MediaStreamCodec:
        return TelnyxCodec()

    async def dial(
        self, *, to: str, from_: str, ws_url: str, answer_url: str, token: str
    ) -> Dialled:
        rest = _require(self.rest, self.carrier)
        call_id = await rest.make_call(
            to=to,
            from_=from_,
            connection_id=self._connection_id,
            stream_url=ws_url,
            stream_token=token,
        )
        return Dialled(call_id=call_id)


def _is_call_control(call: CallInfo) -> bool:
    """A Telnyx call offered by a Call Control webhook (JSON), not by TeXML (form)."""
    return "event_type" in call.attributes


class VonageAdapter(_CallControlAdapter):
    """Vonage: ``signature_secret`` checks signed webhooks (JWT + payload hash);
    ``sample_rate`` (8000/16000 Hz) is the L16 rate asked for in the NCCO."""

    carrier: Carrier = "vonage"

    def __init__(
        self,
        *,
        signature_secret: str,
        rest: vonage_api.VonageRestClient | None = None,
        sample_rate: int = 16000,
    ) -> None:
        self._secret = signature_secret
        self.rest = rest
        self._rate = sample_rate

    def verify(self, request: WebhookRequest) -> CallInfo:
        vonage_api.verify_signed_webhook(
            signature_secret=self._secret,
            authorization=request.headers.get("Authorization"),
            raw_body=request.raw_body if request.method == "POST" else None,
            query=request.query if request.method == "GET" else None,
        )
        if request.method == "GET":
            return vonage_api.parse_answer_webhook(dict(request.query))
        return vonage_api.parse_answer_webhook(_json_object(request, self.carrier))

    def _ncco(self, ws_url: str, token: str) -> list[dict[str, Any]]:
        return vonage_api.ncco_websocket(
            uri=ws_url, headers={TOKEN_PARAMETER: token}, sample_rate=self._rate
        )

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> web.Response:
        return web.json_response(self._ncco(ws_url, token))

    async def reject(self, call: CallInfo, reason: str) -> web.Response:
        return web.json_response(vonage_api.ncco_reject())

    def codec(self) -> MediaStreamCodec:
        return VonageCodec(sample_rate=self._rate)

    async def dial(
        self, *, to: str, from_: str, ws_url: str, answer_url: str, token: str
    ) -> Dialled:
        rest = _require(self.rest, self.carrier)
        call_id = await rest.make_call(to=to, from_=from_, ncco=self._ncco(ws_url, token))
        return Dialled(call_id=call_id)


class PlivoAdapter(_CallControlAdapter):
    """Plivo: ``auth_token`` checks V3 signatures. Outbound calls fetch our answer URL
    (Plivo's REST API has no inline XML), which then answers like an inbound call."""

    carrier: Carrier = "plivo"

    def __init__(self, *, auth_token: str, rest: plivo_api.PlivoRestClient | None = None) -> None:
        self._auth_token = auth_token
        self.rest = rest

    def verify(self, request: WebhookRequest) -> CallInfo:
        plivo_api.validate_signature_v3(
            auth_token=self._auth_token,
            url=request.url,
            nonce=request.headers.get("X-Plivo-Signature-V3-Nonce"),
            signature=request.headers.get("X-Plivo-Signature-V3"),
            method=request.method,
            params=request.form if request.method == "POST" else None,
        )
        return plivo_api.parse_answer_webhook(_form(request))

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> web.Response:
        xml = plivo_api.plivo_stream(url=ws_url, extra_headers={TOKEN_PARAMETER: token})
        return web.Response(text=xml, content_type=_XML)

    async def reject(self, call: CallInfo, reason: str) -> web.Response:
        return web.Response(text=plivo_api.plivo_reject(_reason(reason)), content_type=_XML)

    def codec(self) -> MediaStreamCodec:
        return PlivoCodec()

    async def dial(
        self, *, to: str, from_: str, ws_url: str, answer_url: str, token: str
    ) -> Dialled:
        rest = _require(self.rest, self.carrier)
        return Dialled(call_id=await rest.make_call(to=to, from_=from_, answer_url=answer_url))


def _require(rest: Any, carrier: str, what: str = "make_call") -> Any:
    if rest is None:
        raise ValueError(f"{carrier}: {what} needs REST credentials (no REST client configured)")
    return rest


def form_fields(post: MultiDictProxy[str | Any]) -> dict[str, str]:
    """POST form fields as a plain dict of strings (files are ignored)."""
    return {k: v for k, v in post.items() if isinstance(v, str)}
