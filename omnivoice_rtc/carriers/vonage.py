"""Vonage: signed-webhook JWT (HS256 + payload_hash), NCCO answer/reject, answer webhook →
CallInfo, Voice REST with an RS256 application JWT (:mod:`.vonage_rest`), and its settings
and :class:`VonageProfile`.

Sources: vonage-python-sdk ``vonage_jwt`` (verify_jwt.py, jwt.py), developer.vonage.com
webhooks/NCCO/websockets guides, reference section 3.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

import jwt

from omnivoice_rtc._errors import ConfigError, SignatureError
from omnivoice_rtc.carriers._common import check_url
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
    webhook_json,
)
from omnivoice_rtc.carriers.vonage_rest import DEFAULT_API_BASE_URL, VonageRestClient
from omnivoice_rtc.media_streams.messages import Connected, InboundMessage, Start
from omnivoice_rtc.media_streams.vonage import VonageCodec, content_type
from omnivoice_rtc.settings._env import load, var
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.types.call_control import TransferTarget

__all__ = [
    "DEFAULT_API_BASE_URL",
    "MAX_HEADERS_BYTES",
    "VonageProfile",
    "VonageRestClient",
    "VonageSettings",
    "make_signed_webhook_jwt",
    "ncco_connect",
    "ncco_reject",
    "ncco_websocket",
    "parse_answer_webhook",
    "payload_hash",
    "query_payload_hash",
    "verify_signed_webhook",
]

CARRIER: Final = "vonage"
MAX_HEADERS_BYTES: Final = 512
"""Vonage's limit on the NCCO websocket ``headers`` object (bytes of JSON)."""
DEFAULT_JWT_MAX_AGE_S: Final = 300.0
"""How old a signed-webhook JWT's ``iat`` may be by default (s)."""

# ------------------------------------------------------------------ signed webhooks


def payload_hash(raw_body: bytes) -> str:
    """Lowercase hex SHA-256 of a POST body, as in the ``payload_hash`` claim."""
    return hashlib.sha256(raw_body).hexdigest()


def query_payload_hash(query: Sequence[tuple[str, str]]) -> str:
    """``payload_hash`` for a GET webhook: SHA-256 of the query parameters as a JSON
    object in their original order, with no whitespace."""
    text = json.dumps(dict(query), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_signed_webhook(
    *,
    signature_secret: str,
    authorization: str | None,
    raw_body: bytes | None = None,
    query: Sequence[tuple[str, str]] | None = None,
    leeway_s: float = 30.0,
    max_age_s: float | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify ``Authorization: Bearer <JWT>`` (HS256 with the signature secret) and return
    its claims; ``exp``/``iat``/``nbf`` are checked when present.

    When ``raw_body`` (POST) or ``query`` (GET) is given, the JWT must carry a
    ``payload_hash`` claim equal to its SHA-256. With ``max_age_s`` the JWT must carry an
    ``iat`` at most that many seconds before ``now`` (default: the wall clock) and not
    more than ``leeway_s`` after it: an old signed request cannot be replayed. Raises
    SignatureError.
    """
    if not authorization or not authorization.startswith("Bearer "):
        raise SignatureError(f"{CARRIER}: missing Authorization: Bearer <JWT>")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signature_secret,
            algorithms=["HS256"],
            options={"verify_aud": False},
            leeway=leeway_s,
        )
    except jwt.PyJWTError as exc:
        raise SignatureError(
            f"{CARRIER}: invalid signed-webhook JWT: {type(exc).__name__}"
        ) from None
    if max_age_s is not None:
        _check_age(claims.get("iat"), max_age_s=max_age_s, leeway_s=leeway_s, now=now)
    expected: str | None = None
    if raw_body is not None:
        expected = payload_hash(raw_body)
    elif query is not None:
        expected = query_payload_hash(query)
    if expected is not None:
        claimed = claims.get("payload_hash")
        if not isinstance(claimed, str):
            raise SignatureError(f"{CARRIER}: signed-webhook JWT has no payload_hash claim")
        if not hmac.compare_digest(claimed.lower().encode(), expected.encode()):
            raise SignatureError(f"{CARRIER}: payload_hash does not match the request")
    return claims


def _check_age(iat: Any, *, max_age_s: float, leeway_s: float, now: float | None) -> None:
    if type(iat) is not int and type(iat) is not float:
        raise SignatureError(f"{CARRIER}: signed-webhook JWT has no iat claim")
    age = (time.time() if now is None else now) - iat
    if age > max_age_s:
        raise SignatureError(
            f"{CARRIER}: signed-webhook JWT is {age:.0f} s old (at most {max_age_s:g} s)"
        )
    if age < -leeway_s:
        raise SignatureError(f"{CARRIER}: signed-webhook JWT is issued in the future")


def make_signed_webhook_jwt(
    *, signature_secret: str, api_key: str, payload_hash: str | None, issued_at: int | None = None
) -> str:
    """An HS256 webhook JWT as Vonage sends it (for simulators and tests)."""
    iat = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "api_key": api_key,
    }
    if payload_hash is not None:
        claims["payload_hash"] = payload_hash
    return jwt.encode(claims, signature_secret, algorithm="HS256")


# ------------------------------------------------------------------ NCCO


def ncco_websocket(
    *,
    uri: str,
    headers: Mapping[str, str],
    sample_rate: int = 16000,
    event_url: str | None = None,
    from_: str | None = None,
    signed_upgrade: bool = False,
) -> list[dict[str, Any]]:
    """An NCCO whose ``connect`` action streams the call to ``uri`` (L16 at ``sample_rate``
    Hz). ``headers`` (≤ 512 bytes of JSON; e.g. the stream token) reach the WebSocket as
    top-level keys of ``websocket:connected``. ``signed_upgrade`` adds
    ``"authorization": {"type": "vonage"}`` so the WS upgrade carries the signed JWT."""
    check_url(CARRIER, "websocket uri", uri, ("wss", "ws"), query_ok=True)
    encoded = json.dumps(dict(headers), separators=(",", ":")).encode()
    if len(encoded) > MAX_HEADERS_BYTES:
        raise ValueError(
            f"{CARRIER}: websocket headers must be at most {MAX_HEADERS_BYTES} bytes of JSON, "
            f"got {len(encoded)}"
        )
    endpoint: dict[str, Any] = {
        "type": "websocket",
        "uri": uri,
        "content-type": content_type(sample_rate),
        "headers": dict(headers),
    }
    if signed_upgrade:
        endpoint["authorization"] = {"type": "vonage"}
    action: dict[str, Any] = {"action": "connect"}
    if from_:
        action["from"] = from_
    if event_url:
        action["eventType"] = "synchronous"
        action["eventUrl"] = [
            check_url(CARRIER, "eventUrl", event_url, ("https", "http"), query_ok=True)
        ]
    action["endpoint"] = [endpoint]
    return [action]


def ncco_connect(target: TransferTarget) -> list[dict[str, Any]]:
    """The NCCO of a cold transfer: ``connect`` to a ``phone`` endpoint (number without
    ``+``) or a ``sip`` endpoint (``uri``) (developer.vonage.com, NCCO reference)."""
    endpoint: dict[str, Any] = (
        {"type": "phone", "number": target.value.lstrip("+")}
        if target.kind == "number"
        else {"type": "sip", "uri": target.value}
    )
    return [{"action": "connect", "endpoint": [endpoint]}]


def ncco_reject(text: str | None = None) -> list[dict[str, Any]]:
    """An NCCO with no connect: the call ends when it runs out. With ``text`` Vonage
    speaks it first; without, the NCCO is empty (``[]``)."""
    return [{"action": "talk", "text": text}] if text else []


# ------------------------------------------------------------------ webhook


def parse_answer_webhook(fields: Mapping[str, Any]) -> CallInfo:
    """Answer webhook (GET query or POST JSON) → CallInfo. ``from_user`` is used for
    Client SDK calls that have no ``from``."""
    call_uuid = fields.get("uuid")
    if not isinstance(call_uuid, str) or not call_uuid:
        raise ValueError(f"{CARRIER}: webhook is missing uuid")
    caller = fields.get("from") or fields.get("from_user") or ""
    attrs = {
        k: str(fields[k])
        for k in ("conversation_uuid", "endpoint_type", "region_url")
        if fields.get(k) is not None
    }
    direction = fields.get("direction", "inbound")
    return CallInfo(
        call_id=call_uuid,
        from_=str(caller),
        to=str(fields.get("to", "")),
        direction="outbound" if direction == "outbound" else "inbound",
        carrier=CARRIER,
        attributes=attrs,
    )


# ------------------------------------------------------------------ settings + profile


def _pem(name: str, raw: str) -> str:
    """PEM text from one environment line: ``\\n`` stands for a newline."""
    return raw.replace("\\n", "\n")


@dataclass(frozen=True, slots=True, kw_only=True)
class VonageSettings(CarrierSettings):
    """``VONAGE_SIGNATURE_SECRET`` (signed webhooks, HS256; enables Vonage),
    ``VONAGE_APPLICATION_ID`` and ``VONAGE_PRIVATE_KEY`` (PEM text) or
    ``VONAGE_PRIVATE_KEY_PATH`` (REST, RS256), ``VONAGE_API_KEY``, ``VONAGE_FROM_NUMBER``,
    ``VONAGE_API_BASE_URL``. ``sample_rate`` (8000 or 16000 Hz, set in code) is the L16
    rate asked for in the NCCO."""

    ENABLE_VAR = "VONAGE_SIGNATURE_SECRET"
    _enable_field = "signature_secret"
    _required = (
        ("application_id", "VONAGE_APPLICATION_ID"),
        ("private_key", "VONAGE_PRIVATE_KEY"),
        ("signature_secret", "VONAGE_SIGNATURE_SECRET"),
    )
    _rest_required = (
        ("application_id", "VONAGE_APPLICATION_ID"),
        ("private_key", "VONAGE_PRIVATE_KEY"),
    )

    application_id: str = var("VONAGE_APPLICATION_ID", "", doc="Vonage application id (REST JWT)")
    private_key: str = var(
        "VONAGE_PRIVATE_KEY",
        "",
        doc="application private key, PEM text (\\n for newlines) (REST JWT)",
        secret=True,
        parse=_pem,
    )
    private_key_path: str = var(
        "VONAGE_PRIVATE_KEY_PATH",
        "",
        doc="file holding the PEM key (when VONAGE_PRIVATE_KEY is unset)",
    )
    signature_secret: str = var(
        "VONAGE_SIGNATURE_SECRET",
        "",
        doc="signed-webhook secret (HS256); enables Vonage",
        secret=True,
    )
    api_key: str = var("VONAGE_API_KEY", "", doc="Vonage API key (the webhook JWT's api_key)")
    from_number: str = var("VONAGE_FROM_NUMBER", "", doc="caller id for make_call (E.164)")
    api_base_url: str = base_url_var("VONAGE_API_BASE_URL", DEFAULT_API_BASE_URL, carrier="Vonage")
    jwt_max_age_s: float = var(
        "VONAGE_JWT_MAX_AGE_S",
        DEFAULT_JWT_MAX_AGE_S,
        doc="oldest signed-webhook JWT accepted (iat, s); each JWT id is accepted once",
        kind=float,
        minimum=10,
        maximum=3600,
    )
    sample_rate: int = 16000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        settings = load(cls, env)
        if settings.private_key or not settings.private_key_path:
            return settings
        try:
            key = Path(settings.private_key_path).read_text()
        except OSError as exc:
            raise ConfigError(
                f"VONAGE_PRIVATE_KEY_PATH: cannot read {settings.private_key_path!r}: "
                f"{exc.strerror}"
            ) from None
        return dataclasses.replace(settings, private_key=key)


class VonageProfile(CarrierProfile[VonageSettings, VonageRestClient]):
    """Vonage Voice WebSockets (NCCO ``connect``): the stream opens with
    ``websocket:connected``, which carries the NCCO ``headers`` (the token) as top-level
    keys; the token may also come as ``Authorization: Bearer <token>`` on the upgrade."""

    name = CARRIER
    settings_type = VonageSettings
    opening_message = Connected
    first_events = frozenset({"websocket:connected"})

    @classmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """``websocket:connected``."""
        return obj.get("event") == "websocket:connected"

    def codec(self) -> VonageCodec:
        return VonageCodec(sample_rate=self.settings.sample_rate)

    def stream_token(
        self,
        opening: Start | Connected,
        headers: Mapping[str, str],
        earlier: Sequence[InboundMessage],
    ) -> str | None:
        token = opening.custom_parameters.get(TOKEN_PARAMETER)
        if token:
            return token
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer ") and "." not in auth:  # a custom token, not Vonage's JWT
            return auth[len("Bearer ") :].strip() or None
        return None

    def _new_rest(self) -> VonageRestClient | None:
        s = self.settings
        if s.missing_rest_var() is not None:
            return None
        return VonageRestClient(
            application_id=s.application_id, private_key=s.private_key, base_url=s.api_base_url
        )

    def _verify(self, request: WebhookRequest) -> CallInfo:
        claims = verify_signed_webhook(
            signature_secret=self.settings.signature_secret,
            authorization=request.headers.get("Authorization"),
            raw_body=request.raw_body if request.method == "POST" else None,
            query=request.query if request.method == "GET" else None,
            max_age_s=self.settings.jwt_max_age_s,
        )
        if request.method == "GET":
            call = parse_answer_webhook(dict(request.query))
        else:
            call = parse_answer_webhook(webhook_json(request, CARRIER))
        api_key = claims.get("api_key")
        if isinstance(api_key, str) and api_key:
            call = dataclasses.replace(call, attributes={**call.attributes, "api_key": api_key})
        return call

    def replay_keys(self, request: WebhookRequest, call: CallInfo) -> ReplayKeys:
        """The JWT's ``jti`` (the token itself when it has none), for twice the accepted
        JWT age: older JWTs are refused anyway."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        jti = jwt.decode(token, options={"verify_signature": False}).get("jti")
        material = f"jti:{jti}" if isinstance(jti, str) and jti else f"jwt:{token}"
        return ((f"vonage:{request_digest(material)}", 2.0 * self.settings.jwt_max_age_s),)

    def account_of(self, call: CallInfo) -> str:
        return call.attributes.get("api_key", "")

    def _ncco(self, ws_url: str, token: str) -> list[dict[str, Any]]:
        return ncco_websocket(
            uri=ws_url, headers={TOKEN_PARAMETER: token}, sample_rate=self.settings.sample_rate
        )

    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        return WebhookAnswer.json(self._ncco(ws_url, token))

    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        return WebhookAnswer.json(ncco_reject())

    async def _hangup(self, rest: VonageRestClient, call_id: str) -> None:
        await rest.hangup(call_id)

    rest_digits = True

    async def _send_digits(self, rest: VonageRestClient, call_id: str, digits: str) -> None:
        await rest.send_dtmf(call_id, digits)

    async def _transfer(
        self, rest: VonageRestClient, call_id: str, target: TransferTarget, document_url: str
    ) -> None:
        await rest.transfer(call_id, ncco_connect(target))

    async def _dial(self, rest: VonageRestClient, request: DialRequest) -> Dialled:
        ncco = self._ncco(request.ws_url, request.token)
        return Dialled(call_id=await rest.make_call(to=request.to, from_=request.from_, ncco=ncco))
