"""Telnyx: Ed25519 webhook signatures, TeXML answer/reject, webhooks → CallInfo, Call Control
REST (dial with a media stream, answer, reject, hang up; :mod:`.telnyx_rest`), and its
settings and :class:`TelnyxProfile`.

Sources: telnyx-python ``webhook.py`` (signature, 300 s tolerance), developers.telnyx.com
TeXML ``<Stream>`` and Call Control ``dial``/``hangup``; reference section 2.
"""

from __future__ import annotations

import base64
import binascii
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.carriers._common import check_url, xml_document
from omnivoice_rtc.carriers.profile import (
    TOKEN_PARAMETER,
    CarrierProfile,
    CarrierSettings,
    Dialled,
    DialRequest,
    ReplayKeys,
    WebhookAnswer,
    WebhookRequest,
    base_url_var,
    request_digest,
    webhook_fields,
    webhook_json,
)
from omnivoice_rtc.carriers.telnyx_rest import (
    ALREADY_ENDED_CODES,
    CODECS,
    DEFAULT_API_BASE_URL,
    TelnyxRestClient,
)
from omnivoice_rtc.media_streams.messages import Connected, InboundMessage, Start
from omnivoice_rtc.media_streams.telnyx import AUTH_TOKEN_KEY, TelnyxCodec
from omnivoice_rtc.settings._env import var
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.types.call_control import TransferTarget

__all__ = [
    "ALREADY_ENDED_CODES",
    "DEFAULT_API_BASE_URL",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "TelnyxProfile",
    "TelnyxRestClient",
    "TelnyxSettings",
    "parse_call_control_webhook",
    "parse_texml_webhook",
    "sign_webhook",
    "stream_token_from_start",
    "texml_reject",
    "texml_stream",
    "verify_signature",
]

CARRIER: Final = "telnyx"
SIGNATURE_HEADER: Final = "telnyx-signature-ed25519"
TIMESTAMP_HEADER: Final = "telnyx-timestamp"
TOLERANCE_S: Final = 300
_RATES: Final = (8000, 16000, 24000)

# ------------------------------------------------------------------ signature


def verify_signature(
    *,
    public_key: str,
    signature: str | None,
    timestamp: str | None,
    raw_body: bytes,
    now: float | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> None:
    """Check an Ed25519 webhook signature over ``timestamp + "|" + raw_body``.

    ``public_key`` is the Base64 key from the portal; ``signature`` and ``timestamp`` are
    the ``telnyx-signature-ed25519`` and ``telnyx-timestamp`` headers (Unix seconds).
    ``raw_body`` must be the exact request bytes. Rejects timestamps more than
    ``tolerance_s`` seconds from ``now``. Raises SignatureError.
    """
    if not signature or not timestamp:
        raise SignatureError(f"{CARRIER}: missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError(f"{CARRIER}: {TIMESTAMP_HEADER} is not a Unix timestamp")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        raise SignatureError(f"{CARRIER}: {TIMESTAMP_HEADER} outside the {tolerance_s:g} s window")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError(f"{CARRIER}: public key is not Base64 of 32 bytes") from None
    try:
        sig = base64.b64decode(signature, validate=True)
        key.verify(sig, timestamp.encode("ascii") + b"|" + raw_body)
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError(f"{CARRIER}: invalid {SIGNATURE_HEADER}") from None


def sign_webhook(private_key: Ed25519PrivateKey, timestamp: str, raw_body: bytes) -> str:
    """Base64 Ed25519 signature as Telnyx sends it (for simulators and tests)."""
    return base64.b64encode(private_key.sign(timestamp.encode("ascii") + b"|" + raw_body)).decode()


# ------------------------------------------------------------------ markup


def texml_stream(
    *,
    url: str,
    parameters: Mapping[str, str],
    codec: str = "PCMU",
    sampling_rate: int = 8000,
    status_callback: str | None = None,
) -> str:
    """TeXML ``<Connect><Stream bidirectionalMode="rtp">`` with ``<Parameter>`` children.

    ``codec`` (``PCMU``/``PCMA``/``L16``) and ``sampling_rate`` (Hz) set both directions;
    ``parameters`` (e.g. the stream token) arrive in ``start.custom_parameters``.
    """
    check_url(CARRIER, "<Stream url>", url, ("wss",), query_ok=False)
    if codec not in CODECS:
        raise ValueError(f"{CARRIER}: codec must be one of {', '.join(CODECS)}, got {codec!r}")
    if sampling_rate not in _RATES:
        raise ValueError(
            f"{CARRIER}: sampling_rate must be 8000, 16000 or 24000 Hz, got {sampling_rate}"
        )
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    attrs = {
        "url": url,
        "track": "inbound_track",
        "codec": codec,
        "bidirectionalMode": "rtp",
        "bidirectionalCodec": codec,
        "bidirectionalSamplingRate": str(sampling_rate),
    }
    if status_callback:
        attrs["statusCallback"] = check_url(
            CARRIER, "statusCallback", status_callback, ("https", "http"), query_ok=True
        )
    stream = ET.SubElement(connect, "Stream", attrs)
    for key, value in parameters.items():
        ET.SubElement(stream, "Parameter", {"name": key, "value": value})
    return xml_document(response)


def texml_reject(reason: str = "busy") -> str:
    """TeXML ``<Response><Reject reason/>``; ``reason`` is ``busy`` or ``rejected``."""
    if reason not in ("busy", "rejected"):
        raise ValueError(f"{CARRIER}: reject reason must be 'busy' or 'rejected', got {reason!r}")
    response = ET.Element("Response")
    ET.SubElement(response, "Reject", {"reason": reason})
    return xml_document(response)


def stream_token_from_start(start: Start) -> str | None:
    """The stream token of a Telnyx ``start``: ``custom_parameters["token"]`` (TeXML) or
    the Base64-decoded ``client_state`` (Call Control dial by :class:`TelnyxRestClient`)."""
    token = start.custom_parameters.get(TOKEN_PARAMETER)
    if token:
        return token
    state = start.details.get("client_state")
    if isinstance(state, str) and state:
        try:
            return base64.b64decode(state, validate=True).decode("ascii")
        except (binascii.Error, ValueError):
            return None
    return None


# ------------------------------------------------------------------ webhooks


def parse_texml_webhook(fields: Mapping[str, str]) -> CallInfo:
    """TeXML voice webhook form fields → CallInfo. ``CallSid`` is the call_control_id."""
    call_sid = fields.get("CallSid", "")
    if not call_sid:
        raise ValueError(f"{CARRIER}: webhook is missing CallSid")
    direction = fields.get("Direction", "inbound")
    attrs = {
        k: fields[k]
        for k in ("AccountSid", "CallSidLegacy", "ConnectionId", "CallStatus")
        if fields.get(k)
    }
    return CallInfo(
        call_id=call_sid,
        from_=fields.get("From", ""),
        to=fields.get("To", ""),
        direction="outbound" if direction.startswith("outbound") else "inbound",
        carrier=CARRIER,
        attributes=attrs,
    )


def parse_call_control_webhook(body: Mapping[str, Any]) -> CallInfo:
    """Call Control webhook JSON (``{"data":{"event_type","payload":{…}}}``) → CallInfo."""
    data = body.get("data")
    payload = data.get("payload") if isinstance(data, dict) else None
    if not isinstance(payload, dict):
        raise ValueError(f"{CARRIER}: webhook is missing data.payload")
    call_id = payload.get("call_control_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValueError(f"{CARRIER}: webhook is missing data.payload.call_control_id")
    attrs = {
        k: payload[k]
        for k in ("call_leg_id", "call_session_id", "connection_id", "state")
        if isinstance(payload.get(k), str)
    }
    if isinstance(data, dict) and isinstance(data.get("event_type"), str):
        attrs["event_type"] = data["event_type"]
    direction = payload.get("direction", "incoming")
    return CallInfo(
        call_id=call_id,
        from_=str(payload.get("from", "")),
        to=str(payload.get("to", "")),
        direction="outbound" if direction == "outgoing" else "inbound",
        carrier=CARRIER,
        attributes=attrs,
    )


# ------------------------------------------------------------------ settings + profile


@dataclass(frozen=True, slots=True, kw_only=True)
class TelnyxSettings(CarrierSettings):
    """``TELNYX_PUBLIC_KEY`` (Base64 Ed25519 webhook key; enables Telnyx), ``TELNYX_API_KEY``
    (REST), ``TELNYX_CONNECTION_ID`` (Call Control App id for dialing),
    ``TELNYX_FROM_NUMBER``, ``TELNYX_API_BASE_URL``."""

    ENABLE_VAR = "TELNYX_PUBLIC_KEY"
    _enable_field = "public_key"
    _required = (("api_key", "TELNYX_API_KEY"), ("public_key", "TELNYX_PUBLIC_KEY"))
    _rest_required = (("api_key", "TELNYX_API_KEY"),)

    api_key: str = var("TELNYX_API_KEY", "", doc="Telnyx API key (REST)", secret=True)
    public_key: str = var(
        "TELNYX_PUBLIC_KEY", "", doc="Base64 Ed25519 webhook public key; enables Telnyx"
    )
    connection_id: str = var(
        "TELNYX_CONNECTION_ID", "", doc="Call Control application id used to dial"
    )
    from_number: str = var("TELNYX_FROM_NUMBER", "", doc="caller id for make_call (E.164)")
    api_base_url: str = base_url_var("TELNYX_API_BASE_URL", DEFAULT_API_BASE_URL, carrier="Telnyx")


def _is_call_control(call: CallInfo) -> bool:
    """A Telnyx call offered by a Call Control webhook (JSON), not by TeXML (form)."""
    return "event_type" in call.attributes


class TelnyxProfile(CarrierProfile[TelnyxSettings, TelnyxRestClient]):
    """Telnyx, both of its webhook styles at one URL:

    * **TeXML** (form webhooks): answered with ``<Connect><Stream>`` markup.
    * **Call Control** (JSON ``call.initiated``; the call waits parked): answered over REST,
      ``actions/answer`` with the stream and the token as ``client_state``, or
      ``actions/reject``; needs ``TELNYX_API_KEY``. Call Control's other events
      (``call.answered``, ``call.hangup``, ``streaming.*``, and ``call.initiated`` of calls we
      dialled) are acknowledged with 200 and nothing else.

    The stream token arrives as ``start.custom_parameters.token`` (TeXML), the Base64
    ``start.client_state`` (Call Control), or the ``x-telnyx-streaming-auth-token`` upgrade
    header / ``connected`` key."""

    name = CARRIER
    settings_type = TelnyxSettings

    @classmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """``connected`` without ``protocol``, or ``start`` with a top-level ``stream_id``
        and ``start.call_control_id``."""
        event = obj.get("event")
        if event == "connected":
            return "protocol" not in obj
        start = obj.get("start")
        return (
            event == "start"
            and "stream_id" in obj
            and isinstance(start, dict)
            and "call_control_id" in start
        )

    def codec(self) -> TelnyxCodec:
        return TelnyxCodec()

    def stream_token(
        self,
        opening: Start | Connected,
        headers: Mapping[str, str],
        earlier: Sequence[InboundMessage],
    ) -> str | None:
        token = stream_token_from_start(opening) if isinstance(opening, Start) else None
        if token:
            return token
        if headers.get(AUTH_TOKEN_KEY):
            return headers[AUTH_TOKEN_KEY]
        for message in reversed(earlier):
            if isinstance(message, Connected):
                value = message.extra.get(AUTH_TOKEN_KEY)
                if isinstance(value, str) and value:
                    return value
        return None

    def _new_rest(self) -> TelnyxRestClient | None:
        s = self.settings
        if s.missing_rest_var() is not None:
            return None
        return TelnyxRestClient(api_key=s.api_key, base_url=s.api_base_url)

    def _verify(self, request: WebhookRequest) -> CallInfo:
        verify_signature(
            public_key=self.settings.public_key,
            signature=request.headers.get(SIGNATURE_HEADER),
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            raw_body=request.raw_body,
        )
        if request.form or request.method == "GET":
            return parse_texml_webhook(webhook_fields(request))
        return parse_call_control_webhook(webhook_json(request, CARRIER))

    def replay_keys(self, request: WebhookRequest, call: CallInfo) -> ReplayKeys:
        """The signature: a request signed once is accepted once (within the timestamp
        window, which is all the key needs to outlive)."""
        signature = request.headers.get(SIGNATURE_HEADER, "")
        return ((f"telnyx:sig:{request_digest(signature)}", 2.0 * TOLERANCE_S),)

    def account_of(self, call: CallInfo) -> str:
        return call.attributes.get("AccountSid") or call.attributes.get("connection_id", "")

    def already_answered(self, call: CallInfo) -> WebhookAnswer:
        """Call Control delivers webhooks at least once and retries any answer but 2xx:
        a repeated ``call.initiated`` is acknowledged (the call was answered over REST)."""
        if _is_call_control(call):
            return WebhookAnswer.json({})
        return super().already_answered(call)

    def is_new_call(self, call: CallInfo) -> bool:
        if not _is_call_control(call):
            return True  # TeXML only calls the answer URL to offer a call
        return call.attributes["event_type"] == "call.initiated" and call.direction == "inbound"

    def sends_stream_url_over_rest(self, call: CallInfo) -> bool:
        return _is_call_control(call)

    def ensure_answerable(self, call: CallInfo) -> None:
        if _is_call_control(call):
            self.require_rest("answering a Call Control call")

    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        if not _is_call_control(call):
            return WebhookAnswer.xml(texml_stream(url=ws_url, parameters={TOKEN_PARAMETER: token}))
        rest = self.require_rest("answering a Call Control call")
        await rest.answer(call.call_id, stream_url=ws_url, stream_token=token)
        return WebhookAnswer.json({})

    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        if not _is_call_control(call):
            return WebhookAnswer.xml(texml_reject(reason))
        rest = self.require_rest("rejecting a Call Control call")
        await rest.reject(call.call_id, cause="USER_BUSY" if reason == "busy" else "CALL_REJECTED")
        return WebhookAnswer.json({})

    async def _hangup(self, rest: TelnyxRestClient, call_id: str) -> None:
        await rest.hangup(call_id)

    rest_digits = True

    async def _send_digits(self, rest: TelnyxRestClient, call_id: str, digits: str) -> None:
        await rest.send_dtmf(call_id, digits)

    async def _transfer(
        self, rest: TelnyxRestClient, call_id: str, target: TransferTarget, document_url: str
    ) -> None:
        # [?] a TeXML-answered call: its CallSid is used as the call_control_id, as the
        # hang-up does (parse_texml_webhook)
        await rest.transfer(call_id, target.value)

    async def _dial(self, rest: TelnyxRestClient, request: DialRequest) -> Dialled:
        call_id = await rest.make_call(
            to=request.to,
            from_=request.from_,
            connection_id=self.settings.connection_id,
            stream_url=request.ws_url,
            stream_token=request.token,
        )
        return Dialled(call_id=call_id)
