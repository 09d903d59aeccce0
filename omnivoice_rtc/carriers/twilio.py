"""Twilio: X-Twilio-Signature, TwiML answer/reject, webhook → CallInfo, REST, and its
settings and :class:`TwilioProfile`.

Sources: twilio-python ``request_validator.py`` (signature), twilio.com/docs/voice/twiml/stream
and /reject (markup), /voice/api/call-resource (REST), reference section 1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.carriers._common import CarrierRestError, RestClient, check_url, xml_document
from omnivoice_rtc.carriers.profile import (
    TOKEN_PARAMETER,
    CarrierProfile,
    CarrierSettings,
    Dialled,
    DialRequest,
    WebhookAnswer,
    WebhookRequest,
    base_url_var,
    webhook_fields,
)
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.settings._env import var
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.types.call_control import TransferTarget

__all__ = [
    "DEFAULT_API_BASE_URL",
    "SIGNATURE_HEADER",
    "TwilioProfile",
    "TwilioRestClient",
    "TwilioSettings",
    "compute_signature",
    "parse_call_webhook",
    "twiml_dial",
    "twiml_reject",
    "twiml_stream",
    "validate_signature",
]

CARRIER: Final = "twilio"
SIGNATURE_HEADER: Final = "X-Twilio-Signature"
DEFAULT_API_BASE_URL: Final = "https://api.twilio.com"
ALREADY_ENDED_CODES: Final = frozenset({"20404", "21220"})
"""20404: call not found (ended); 21220: call is not in-progress (already completed)."""

Params = Mapping[str, str | Sequence[str]]

# ------------------------------------------------------------------ signature


def compute_signature(auth_token: str, url: str, params: Params | None = None) -> str:
    """Base64 HMAC-SHA1 of ``url`` followed by every ``name + value`` in sorted order."""
    data = url
    for name in sorted(set(params or {})):
        raw = (params or {})[name]
        values = [raw] if isinstance(raw, str) else list(raw)
        for value in sorted(set(values)):
            data += name + value
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> tuple[str, str]:
    """The URL with and without the scheme's default port (Twilio signs either)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    port = parts.port if parts.port is not None else default
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}")) if port else url
    without = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    return with_port, without


def validate_signature(
    *,
    auth_token: str,
    url: str,
    signature: str | None,
    params: Params | None = None,
    body: bytes | None = None,
) -> None:
    """Check ``X-Twilio-Signature`` for a request to ``url``; raise SignatureError if wrong.

    ``url`` is the full URL Twilio requested (scheme, host, path, query). For a form POST
    pass the form fields as ``params``. For a JSON body Twilio puts ``bodySHA256`` in the
    query: pass the raw ``body``; its SHA-256 must match and the URL is signed alone.
    Both forms of the URL (with and without the default port) are accepted.
    """
    if not signature:
        raise SignatureError(f"{CARRIER}: missing {SIGNATURE_HEADER} header")
    query = parse_qs(urlsplit(url).query)
    if "bodySHA256" in query:
        if body is None:
            raise SignatureError(f"{CARRIER}: bodySHA256 in URL but no body to check")
        expected_hash = hashlib.sha256(body).hexdigest()
        claimed = query["bodySHA256"][0].encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(expected_hash.encode(), claimed):
            raise SignatureError(f"{CARRIER}: body does not match bodySHA256")
        params = None
    presented = signature.encode("utf-8", "surrogateescape")  # any header bytes compare
    for candidate in _port_variants(url):
        expected = compute_signature(auth_token, candidate, params).encode()
        if hmac.compare_digest(expected, presented):
            return
    raise SignatureError(f"{CARRIER}: invalid {SIGNATURE_HEADER}")


# ------------------------------------------------------------------ markup


def twiml_stream(
    *,
    url: str,
    parameters: Mapping[str, str],
    status_callback: str | None = None,
    name: str | None = None,
) -> str:
    """``<Response><Connect><Stream url>`` with one ``<Parameter>`` per entry.

    ``url`` must be ``wss://`` with no query string (Twilio drops it): carry the stream
    token and other values in ``parameters``; they arrive as ``start.customParameters``.
    """
    check_url(CARRIER, "<Stream url>", url, ("wss",), query_ok=False)
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    attrs = {"url": url}
    if name:
        attrs["name"] = name
    if status_callback:
        attrs["statusCallback"] = check_url(
            CARRIER, "statusCallback", status_callback, ("https", "http"), query_ok=True
        )
    stream = ET.SubElement(connect, "Stream", attrs)
    for key, value in parameters.items():
        ET.SubElement(stream, "Parameter", {"name": key, "value": value})
    return xml_document(response)


def twiml_reject(reason: str = "busy") -> str:
    """``<Response><Reject reason/>``; ``reason`` is ``busy`` or ``rejected``."""
    if reason not in ("busy", "rejected"):
        raise ValueError(f"{CARRIER}: reject reason must be 'busy' or 'rejected', got {reason!r}")
    response = ET.Element("Response")
    ET.SubElement(response, "Reject", {"reason": reason})
    return xml_document(response)


# ------------------------------------------------------------------ webhook


_ATTRIBUTE_FIELDS: Final = ("AccountSid", "CallStatus", "Direction", "ForwardedFrom", "CallerName")


def twiml_dial(target: TransferTarget) -> str:
    """``<Response><Dial><Number>…</Number></Dial></Response>`` (``<Sip>`` for a SIP URI):
    the TwiML of a cold transfer (twilio.com/docs/voice/twiml/dial)."""
    response = ET.Element("Response")
    dial = ET.SubElement(response, "Dial")
    ET.SubElement(dial, "Number" if target.kind == "number" else "Sip").text = target.value
    return xml_document(response)


def parse_call_webhook(params: Mapping[str, str]) -> CallInfo:
    """A voice webhook's form (POST) or query (GET) fields → CallInfo (``carrier="twilio"``).

    ``Direction`` ``inbound`` → inbound; ``outbound-api``/``outbound-dial`` → outbound.
    """
    call_sid = params.get("CallSid", "")
    if not call_sid:
        raise ValueError(f"{CARRIER}: webhook is missing CallSid")
    direction = params.get("Direction", "inbound")
    return CallInfo(
        call_id=call_sid,
        from_=params.get("From", ""),
        to=params.get("To", ""),
        direction="outbound" if direction.startswith("outbound") else "inbound",
        carrier=CARRIER,
        attributes={k: params[k] for k in _ATTRIBUTE_FIELDS if params.get(k)},
    )


# ------------------------------------------------------------------ REST


class TwilioRestClient(RestClient):
    """Twilio Voice REST (``/2010-04-01``), HTTP Basic ``account_sid:auth_token``."""

    carrier = CARRIER

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, session=session, timeout_s=timeout_s)
        self._account_sid = account_sid
        token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def _calls_path(self, suffix: str = "") -> str:
        return f"/2010-04-01/Accounts/{self._account_sid}/Calls{suffix}.json"

    async def make_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None = None
    ) -> str:
        """Dial ``to`` from ``from_``; the answered call runs ``twiml`` (e.g. from
        :func:`twiml_stream`). Returns the new CallSid."""
        form = [("To", to), ("From", from_), ("Twiml", twiml)]
        if status_callback:
            form.append(("StatusCallback", status_callback))
            form.extend(("StatusCallbackEvent", e) for e in ("initiated", "answered", "completed"))
        path = self._calls_path()
        status, body = await self._request("POST", path, headers=self._headers, form=form)
        if status not in (200, 201):
            raise self._fail("POST", path, status, body)
        sid = body.get("sid") if isinstance(body, dict) else None
        if not isinstance(sid, str):
            raise self._error("POST", path, status, None, "response has no sid")
        return sid

    async def hangup(self, call_sid: str) -> bool:
        """End a live call (``Status=completed``). Returns False if it had already ended."""
        path = self._calls_path(f"/{call_sid}")
        form = [("Status", "completed")]
        status, body = await self._request("POST", path, headers=self._headers, form=form)
        if status in (200, 201):
            return True
        error = self._fail("POST", path, status, body)
        if error.code in ALREADY_ENDED_CODES:
            return False
        raise error

    async def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace a live call's instructions (``POST /Calls/{sid}.json`` ``Twiml=``): the
        running ``<Connect><Stream>`` ends and the new TwiML runs (a ``<Dial>`` transfers)."""
        path = self._calls_path(f"/{call_sid}")
        status, body = await self._request(
            "POST", path, headers=self._headers, form=[("Twiml", twiml)]
        )
        if status not in (200, 201):
            raise self._fail("POST", path, status, body)

    def _fail(self, method: str, path: str, status: int, body: object) -> CarrierRestError:
        code = detail = None
        if isinstance(body, dict):
            raw_code = body.get("code")
            code = str(raw_code) if raw_code is not None else None
            detail = body.get("message") if isinstance(body.get("message"), str) else None
        return self._error(method, path, status, code, detail or "")


# ------------------------------------------------------------------ settings + profile


@dataclass(frozen=True, slots=True, kw_only=True)
class TwilioSettings(CarrierSettings):
    """``TWILIO_AUTH_TOKEN`` (X-Twilio-Signature key; enables Twilio; REST password),
    ``TWILIO_ACCOUNT_SID`` (REST), ``TWILIO_FROM_NUMBER`` (caller id for make_call),
    ``TWILIO_API_BASE_URL``."""

    ENABLE_VAR = "TWILIO_AUTH_TOKEN"
    _enable_field = "auth_token"
    _required = (("account_sid", "TWILIO_ACCOUNT_SID"), ("auth_token", "TWILIO_AUTH_TOKEN"))
    _rest_required = _required

    account_sid: str = var("TWILIO_ACCOUNT_SID", "", doc="Twilio account (REST)")
    auth_token: str = var(
        "TWILIO_AUTH_TOKEN",
        "",
        doc="X-Twilio-Signature key and REST password; enables Twilio",
        secret=True,
    )
    from_number: str = var("TWILIO_FROM_NUMBER", "", doc="caller id for make_call (E.164)")
    api_base_url: str = base_url_var("TWILIO_API_BASE_URL", DEFAULT_API_BASE_URL, carrier="Twilio")


class TwilioProfile(CarrierProfile[TwilioSettings, TwilioRestClient]):
    """Twilio Media Streams (``<Connect><Stream>``): the token is a ``<Parameter>``
    (Twilio drops query strings) and comes back in ``start.customParameters``."""

    name = CARRIER
    settings_type = TwilioSettings

    @classmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """``connected`` with ``protocol``, or ``start`` with ``start.streamSid`` and
        ``start.callSid``."""
        event = obj.get("event")
        if event == "connected":
            return "protocol" in obj
        start = obj.get("start")
        return (
            event == "start"
            and isinstance(start, dict)
            and {"streamSid", "callSid"} <= start.keys()
        )

    def codec(self) -> TwilioCodec:
        return TwilioCodec()

    def _new_rest(self) -> TwilioRestClient | None:
        s = self.settings
        if s.missing_rest_var() is not None:
            return None
        return TwilioRestClient(
            account_sid=s.account_sid, auth_token=s.auth_token, base_url=s.api_base_url
        )

    def _verify(self, request: WebhookRequest) -> CallInfo:
        validate_signature(
            auth_token=self.settings.auth_token,
            url=request.url,
            signature=request.headers.get(SIGNATURE_HEADER),
            params=request.form if request.method == "POST" else None,
            body=request.raw_body if not request.form else None,
        )
        return parse_call_webhook(webhook_fields(request))

    def account_of(self, call: CallInfo) -> str:
        return call.attributes.get("AccountSid", "")

    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        return WebhookAnswer.xml(twiml_stream(url=ws_url, parameters={TOKEN_PARAMETER: token}))

    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        return WebhookAnswer.xml(twiml_reject(reason))

    async def _hangup(self, rest: TwilioRestClient, call_id: str) -> None:
        await rest.hangup(call_id)

    async def _transfer(
        self, rest: TwilioRestClient, call_id: str, target: TransferTarget, document_url: str
    ) -> None:
        await rest.update_twiml(call_id, twiml_dial(target))

    async def _dial(self, rest: TwilioRestClient, request: DialRequest) -> Dialled:
        twiml = twiml_stream(url=request.ws_url, parameters={TOKEN_PARAMETER: request.token})
        return Dialled(
            call_id=await rest.make_call(to=request.to, from_=request.from_, twiml=twiml)
        )
