"""Plivo: X-Plivo-Signature-V3 (HMAC-SHA256 with nonce), Stream XML answer/reject, answer
webhook → CallInfo, REST (make call, hang up), and its settings and :class:`PlivoProfile`.

Sources: plivo-python ``utils/signature_v3.py`` (signature), docs.plivo.com XML
``<Stream>``/``<Hangup>`` and Call API; reference section 4.
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
from omnivoice_rtc.audio.format import AudioFormat
from omnivoice_rtc.carriers._common import CarrierRestError, RestClient, check_url, xml_document
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
)
from omnivoice_rtc.media_streams.plivo import (
    MEDIA_FORMAT,
    PlivoCodec,
    format_extra_headers,
    stream_content_type,
)
from omnivoice_rtc.settings._env import var
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.types.call_control import TransferTarget

__all__ = [
    "DEFAULT_API_BASE_URL",
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "PlivoProfile",
    "PlivoRestClient",
    "PlivoSettings",
    "compute_signature_v3",
    "parse_answer_webhook",
    "plivo_dial",
    "plivo_reject",
    "plivo_stream",
    "validate_signature_v3",
]

CARRIER: Final = "plivo"
SIGNATURE_HEADER: Final = "X-Plivo-Signature-V3"
NONCE_HEADER: Final = "X-Plivo-Signature-V3-Nonce"
DEFAULT_API_BASE_URL: Final = "https://api.plivo.com"
MAX_EXTRA_HEADERS_BYTES: Final = 512

Params = Mapping[str, str | Sequence[str]]

# ------------------------------------------------------------------ signature


def _values(raw: str | Sequence[str]) -> list[str]:
    return sorted([raw] if isinstance(raw, str) else list(raw))


def _sorted_query(params: Mapping[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k in sorted(params) for v in sorted(params[k]))


def _signed_string(method: str, url: str, params: Params) -> str:
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query: dict[str, list[str]] = {
        k: list(v) for k, v in parse_qs(parts.query, keep_blank_values=True).items()
    }
    if method == "GET":
        # As the SDK does: URL query values win over same-named parameters.
        merged = {key: _values(raw) for key, raw in params.items()}
        merged.update(query)
        text = _sorted_query(merged)
        return f"{base}?{text}" if text else base
    query_text = _sorted_query(query)
    if not params:
        return f"{base}?{query_text}" if query_text else base
    body = "".join(f"{k}{v}" for k in sorted(params) for v in _values(params[k]))
    return f"{base}?{query_text}{'.' if query_text else ''}{body}"


def compute_signature_v3(
    *, auth_token: str, url: str, nonce: str, method: str, params: Params
) -> str:
    """Base64 HMAC-SHA256 (key: auth token) of the V3 string ``+ "." + nonce``.

    ``url`` is the full URL Plivo requested; ``params`` the POST form fields (for GET, any
    parameters not already in the URL's query).
    """
    method = method.upper()
    if method not in ("GET", "POST"):
        raise ValueError(f"{CARRIER}: method must be GET or POST, got {method!r}")
    message = f"{_signed_string(method, url, params)}.{nonce}".encode()
    digest = hmac.new(auth_token.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def validate_signature_v3(
    *,
    auth_token: str,
    url: str,
    nonce: str | None,
    signature: str | None,
    method: str,
    params: Params | None = None,
) -> None:
    """Check ``X-Plivo-Signature-V3`` (a comma-separated list, one per active auth token)
    against ``X-Plivo-Signature-V3-Nonce``; raise SignatureError if no entry matches."""
    if not signature or not nonce:
        raise SignatureError(f"{CARRIER}: missing {SIGNATURE_HEADER} or {NONCE_HEADER} header")
    expected = compute_signature_v3(
        auth_token=auth_token, url=url, nonce=nonce, method=method, params=params or {}
    )
    for candidate in signature.split(","):
        presented = candidate.strip().encode("utf-8", "surrogateescape")
        if hmac.compare_digest(presented, expected.encode()):
            return
    raise SignatureError(f"{CARRIER}: invalid {SIGNATURE_HEADER}")


# ------------------------------------------------------------------ markup


def plivo_stream(
    *,
    url: str,
    extra_headers: Mapping[str, str],
    audio_format: AudioFormat = MEDIA_FORMAT,
    status_callback_url: str | None = None,
    stream_timeout_s: int = 86400,
) -> str:
    """``<Response><Stream bidirectional="true" keepCallAlive="true">wss://…</Stream>``.

    ``extra_headers`` (alphanumeric ``key=value`` pairs, ≤ 512 bytes; e.g. the stream
    token) arrive as ``extra_headers`` on every WS frame. ``audio_format`` is μ-law 8000 Hz
    or L16 8000/16000 Hz.
    """
    check_url(CARRIER, "<Stream> URL", url, ("wss", "ws"), query_ok=True)
    headers = format_extra_headers(dict(extra_headers))
    if len(headers.encode()) > MAX_EXTRA_HEADERS_BYTES:
        raise ValueError(f"{CARRIER}: extraHeaders must be at most {MAX_EXTRA_HEADERS_BYTES} bytes")
    if stream_timeout_s <= 0:
        raise ValueError(f"{CARRIER}: stream_timeout_s must be > 0, got {stream_timeout_s}")
    attrs = {
        "bidirectional": "true",
        "keepCallAlive": "true",
        "audioTrack": "inbound",
        "contentType": stream_content_type(audio_format),
        "streamTimeout": str(stream_timeout_s),
    }
    if status_callback_url:
        attrs["statusCallbackUrl"] = check_url(
            CARRIER, "statusCallbackUrl", status_callback_url, ("https", "http"), query_ok=True
        )
        attrs["statusCallbackMethod"] = "POST"
    if headers:
        attrs["extraHeaders"] = headers
    response = ET.Element("Response")
    stream = ET.SubElement(response, "Stream", attrs)
    stream.text = url
    return xml_document(response)


def plivo_reject(reason: str = "rejected") -> str:
    """``<Response><Hangup reason/>``; ``reason`` is ``rejected`` or ``busy``."""
    if reason not in ("busy", "rejected"):
        raise ValueError(f"{CARRIER}: reject reason must be 'busy' or 'rejected', got {reason!r}")
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup", {"reason": reason})
    return xml_document(response)


# ------------------------------------------------------------------ webhook


def plivo_dial(target: TransferTarget) -> str:
    """``<Response><Dial><Number>…</Number></Dial></Response>`` (``<User>`` for a SIP URI):
    the XML a transferred call fetches (plivo.com/docs/voice/xml/dial)."""
    response = ET.Element("Response")
    dial = ET.SubElement(response, "Dial")
    ET.SubElement(dial, "Number" if target.kind == "number" else "User").text = (
        target.value.lstrip("+") if target.kind == "number" else target.value
    )
    return xml_document(response)


def parse_answer_webhook(fields: Mapping[str, str]) -> CallInfo:
    """Answer URL form fields → CallInfo (``CallUUID``, ``From``, ``To``, ``Direction``)."""
    call_uuid = fields.get("CallUUID", "")
    if not call_uuid:
        raise ValueError(f"{CARRIER}: webhook is missing CallUUID")
    attrs = {k: fields[k] for k in ("CallStatus", "ALegUUID", "ForwardedFrom") if fields.get(k)}
    return CallInfo(
        call_id=call_uuid,
        from_=fields.get("From", ""),
        to=fields.get("To", ""),
        direction="outbound" if fields.get("Direction") == "outbound" else "inbound",
        carrier=CARRIER,
        attributes=attrs,
    )


# ------------------------------------------------------------------ REST


class PlivoRestClient(RestClient):
    """Plivo REST (``/v1/Account/{auth_id}/``), HTTP Basic ``auth_id:auth_token``."""

    carrier = CARRIER

    def __init__(
        self,
        *,
        auth_id: str,
        auth_token: str,
        base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, session=session, timeout_s=timeout_s)
        self._auth_id = auth_id
        token = base64.b64encode(f"{auth_id}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    async def make_call(
        self, *, to: str, from_: str, answer_url: str, hangup_url: str | None = None
    ) -> str:
        """Dial ``to`` from ``from_`` (digits, ``+`` optional); Plivo fetches ``answer_url``
        (POST) on answer, which returns :func:`plivo_stream`. Returns the request_uuid."""
        check_url(CARRIER, "answer_url", answer_url, ("https", "http"), query_ok=True)
        body: dict[str, Any] = {
            "from": from_.lstrip("+"),
            "to": to.lstrip("+"),
            "answer_url": answer_url,
            "answer_method": "POST",
        }
        if hangup_url:
            body["hangup_url"] = hangup_url
            body["hangup_method"] = "POST"
        path = f"/v1/Account/{self._auth_id}/Call/"
        status, reply = await self._request("POST", path, headers=self._headers, json_body=body)
        if status not in (200, 201):
            raise self._fail("POST", path, status, reply)
        request_uuid = reply.get("request_uuid") if isinstance(reply, dict) else None
        if isinstance(request_uuid, list) and request_uuid:
            request_uuid = request_uuid[0]
        if not isinstance(request_uuid, str):
            raise self._error("POST", path, status, None, "response has no request_uuid")
        return request_uuid

    async def hangup(self, call_uuid: str) -> bool:
        """``DELETE /Call/{uuid}/`` (204). Returns False if the call had already ended (404)."""
        path = f"/v1/Account/{self._auth_id}/Call/{call_uuid}/"
        status, reply = await self._request("DELETE", path, headers=self._headers)
        if status in (200, 204):
            return True
        if status == 404:
            return False
        raise self._fail("DELETE", path, status, reply)

    async def transfer(self, call_uuid: str, *, aleg_url: str) -> None:
        """``POST /Call/{uuid}/`` ``{"legs":"aleg","aleg_url":…,"aleg_method":"POST"}``
        (202): Plivo fetches ``aleg_url`` for the call's new XML (a ``<Dial>`` transfers)."""
        check_url(CARRIER, "aleg_url", aleg_url, ("https", "http"), query_ok=True)
        path = f"/v1/Account/{self._auth_id}/Call/{call_uuid}/"
        body = {"legs": "aleg", "aleg_url": aleg_url, "aleg_method": "POST"}
        status, reply = await self._request("POST", path, headers=self._headers, json_body=body)
        if status not in (200, 202):
            raise self._fail("POST", path, status, reply)

    def _fail(self, method: str, path: str, status: int, body: object) -> CarrierRestError:
        detail = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            detail = body["error"]
        return self._error(method, path, status, None, detail or "")


# ------------------------------------------------------------------ settings + profile


@dataclass(frozen=True, slots=True, kw_only=True)
class PlivoSettings(CarrierSettings):
    """``PLIVO_AUTH_TOKEN`` (V3 signature key; enables Plivo; REST password),
    ``PLIVO_AUTH_ID`` (REST), ``PLIVO_FROM_NUMBER``, ``PLIVO_API_BASE_URL``."""

    ENABLE_VAR = "PLIVO_AUTH_TOKEN"
    _enable_field = "auth_token"
    _required = (("auth_id", "PLIVO_AUTH_ID"), ("auth_token", "PLIVO_AUTH_TOKEN"))
    _rest_required = _required

    auth_id: str = var("PLIVO_AUTH_ID", "", doc="Plivo auth id (REST)")
    auth_token: str = var(
        "PLIVO_AUTH_TOKEN", "", doc="V3 signature key and REST password; enables Plivo", secret=True
    )
    from_number: str = var("PLIVO_FROM_NUMBER", "", doc="caller id for make_call (E.164)")
    api_base_url: str = base_url_var("PLIVO_API_BASE_URL", DEFAULT_API_BASE_URL, carrier="Plivo")


class PlivoProfile(CarrierProfile[PlivoSettings, PlivoRestClient]):
    """Plivo audio streaming (``<Stream bidirectional>``): the token is an ``extraHeaders``
    pair that arrives on every frame (``start.custom_parameters`` once parsed). Outbound
    calls fetch our answer URL (Plivo's REST API has no inline XML), which then answers
    like an inbound call."""

    name = CARRIER
    settings_type = PlivoSettings

    @classmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """``start`` with ``start.streamId`` and ``start.callId`` (Plivo sends no
        ``connected``)."""
        start = obj.get("start")
        return (
            obj.get("event") == "start"
            and isinstance(start, dict)
            and {"streamId", "callId"} <= start.keys()
        )

    def codec(self) -> PlivoCodec:
        return PlivoCodec()

    def _new_rest(self) -> PlivoRestClient | None:
        s = self.settings
        if s.missing_rest_var() is not None:
            return None
        return PlivoRestClient(auth_id=s.auth_id, auth_token=s.auth_token, base_url=s.api_base_url)

    def _verify(self, request: WebhookRequest) -> CallInfo:
        validate_signature_v3(
            auth_token=self.settings.auth_token,
            url=request.url,
            nonce=request.headers.get(NONCE_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            method=request.method,
            params=request.form if request.method == "POST" else None,
        )
        return parse_answer_webhook(webhook_fields(request))

    def replay_keys(self, request: WebhookRequest, call: CallInfo) -> ReplayKeys:
        """The V3 nonce: Plivo signs no timestamp, so a nonce is remembered for
        ``OMNIVOICE_REPLAY_CACHE_S``."""
        nonce = request.headers.get(NONCE_HEADER, "")
        return ((f"plivo:nonce:{request_digest(nonce)}", None),)

    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        return WebhookAnswer.xml(plivo_stream(url=ws_url, extra_headers={TOKEN_PARAMETER: token}))

    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        return WebhookAnswer.xml(plivo_reject(reason))

    async def _hangup(self, rest: PlivoRestClient, call_id: str) -> None:
        await rest.hangup(call_id)

    transfer_needs_document = True

    def transfer_document(self, target: TransferTarget) -> WebhookAnswer:
        return WebhookAnswer.xml(plivo_dial(target))

    async def _transfer(
        self, rest: PlivoRestClient, call_id: str, target: TransferTarget, document_url: str
    ) -> None:
        await rest.transfer(call_id, aleg_url=document_url)

    async def _dial(self, rest: PlivoRestClient, request: DialRequest) -> Dialled:
        call_id = await rest.make_call(
            to=request.to, from_=request.from_, answer_url=request.answer_url
        )
        return Dialled(call_id=call_id)
