"""Exotel: the Voicebot applet's bidirectional AgentStream, HTTP Basic auth, the dynamic stream
URL answer, Connect Voice AI REST dialling, and its settings and :class:`ExotelProfile`.

Sources: developer.exotel.com/docs/agentstream (stream-voicebot-applet, websocket-protocol,
developer-guide, connect-voice-ai), support.exotel.com "Working with the Stream and Voicebot
Applet"; pipecat ``serializers/exotel.py``. Points not confirmed there are marked [?] in
docs/carriers.md.

* **Auth.** Exotel signs nothing. The Voicebot applet's URL carries credentials
  (``https://user:password@host/...``) that arrive as ``Authorization: Basic`` on the
  answer request and on the WebSocket upgrade; both are compared in constant time with
  ``EXOTEL_STREAM_USER``/``EXOTEL_STREAM_PASSWORD`` (403 on failure).
* **Answer.** The applet's URL is our https answer endpoint, which returns
  ``{"url": "wss://user:password@host/carriers/exotel/media?sample-rate=8000&token=..."}``;
  the stream URL's query parameters arrive in ``start.custom_parameters`` (the token).
* **Dial.** ``POST /v1/Accounts/{sid}/Calls/connect.json`` (Connect Voice AI) with
  ``From`` (the number to call), ``CallerId`` (your ExoPhone), ``StreamUrl``,
  ``StreamType=bidirectional``; HTTP Basic API key:token.
* **Hang-up.** Exotel documents no REST hang-up for these calls: closing the socket ends
  the stream, and the flow goes on to its next applet (put a Hangup applet there).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Self
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp

from omnivoice_rtc._errors import ConfigError, SignatureError
from omnivoice_rtc.carriers._common import CarrierRestError, RestClient, check_url
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
from omnivoice_rtc.media_streams.exotel import SUPPORTED_RATES, ExotelCodec
from omnivoice_rtc.settings._env import load, var
from omnivoice_rtc.types import CallInfo

__all__ = [
    "DEFAULT_API_BASE_URL",
    "MAX_CUSTOM_PARAMETERS",
    "ExotelProfile",
    "ExotelRestClient",
    "ExotelSettings",
    "basic_authorization",
    "parse_stream_webhook",
    "stream_url",
    "verify_basic_auth",
]

CARRIER: Final = "exotel"
DEFAULT_API_BASE_URL: Final = "https://api.exotel.com"
"""Singapore; Mumbai accounts use ``https://api.in.exotel.com`` (``EXOTEL_API_BASE_URL``)."""
MAX_CUSTOM_PARAMETERS: Final = 3
MAX_CUSTOM_PARAMETERS_CHARS: Final = 256
MAX_STREAM_URL_CHARS: Final = 600
"""Connect Voice AI's limit on ``StreamUrl``."""
SAMPLE_RATE_PARAMETER: Final = "sample-rate"

# ------------------------------------------------------------------ auth


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic ``user:password``."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def verify_basic_auth(*, user: str, password: str, authorization: str | None) -> None:
    """Check ``Authorization: Basic`` against ``user``/``password`` in constant time;
    raise SignatureError when it is missing or wrong."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise SignatureError(f"{CARRIER}: missing Authorization: Basic credentials")
    try:
        presented = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{CARRIER}: Authorization: Basic is not Base64") from None
    expected = f"{user}:{password}".encode()
    if not hmac.compare_digest(presented, expected):
        raise SignatureError(f"{CARRIER}: invalid Basic credentials")


# ------------------------------------------------------------------ answer


def stream_url(
    *,
    ws_url: str,
    user: str,
    password: str,
    sample_rate: int,
    parameters: Mapping[str, str],
) -> str:
    """The stream URL Exotel connects to: ``ws_url`` with the Basic credentials as userinfo
    (Exotel sends them as ``Authorization: Basic`` on the upgrade), ``sample-rate`` and
    ``parameters`` (at most 3, 256 characters; they come back in
    ``start.custom_parameters``) as the query."""
    check_url(CARRIER, "stream URL", ws_url, ("wss", "ws"), query_ok=False)
    if sample_rate not in SUPPORTED_RATES:
        raise ValueError(
            f"{CARRIER}: sample_rate must be 8000, 16000 or 24000 Hz, got {sample_rate}"
        )
    custom = urlencode(list(parameters.items()))
    if len(parameters) > MAX_CUSTOM_PARAMETERS or len(custom) > MAX_CUSTOM_PARAMETERS_CHARS:
        raise ValueError(
            f"{CARRIER}: at most {MAX_CUSTOM_PARAMETERS} custom parameters of "
            f"{MAX_CUSTOM_PARAMETERS_CHARS} characters, got {len(parameters)} ({len(custom)})"
        )
    parts = urlsplit(ws_url)
    netloc = parts.netloc
    if user:
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{netloc}"
    query = urlencode([(SAMPLE_RATE_PARAMETER, str(sample_rate))])
    query = f"{query}&{custom}" if custom else query
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_ATTRIBUTE_FIELDS: Final = ("CallStatus", "Direction", "CustomField", "DialWhomNumber")


def parse_stream_webhook(fields: Mapping[str, str]) -> CallInfo:
    """The applet's request for a stream URL (query of a GET, form of a POST) → CallInfo.

    ``CallSid`` is required; the parties are ``CallFrom``/``CallTo`` (Exotel's applet
    requests) or ``From``/``To``; ``Direction`` ``incoming`` → inbound, ``outbound-*`` →
    outbound."""
    call_sid = fields.get("CallSid", "")
    if not call_sid:
        raise ValueError(f"{CARRIER}: webhook is missing CallSid")
    direction = fields.get("Direction", "incoming")
    return CallInfo(
        call_id=call_sid,
        from_=fields.get("CallFrom") or fields.get("From") or "",
        to=fields.get("CallTo") or fields.get("To") or "",
        direction="outbound" if direction.startswith("outbound") else "inbound",
        carrier=CARRIER,
        attributes={k: fields[k] for k in _ATTRIBUTE_FIELDS if fields.get(k)},
    )


# ------------------------------------------------------------------ REST


def _key(obj: Mapping[str, Any], name: str) -> Any:
    """``obj[name]`` matched case-insensitively (``Call``/``call``, ``Sid``/``sid``)."""
    for key, value in obj.items():
        if key.lower() == name:
            return value
    return None


class ExotelRestClient(RestClient):
    """Exotel Voice v1 REST, HTTP Basic ``api_key:api_token``."""

    carrier = CARRIER

    def __init__(
        self,
        *,
        account_sid: str,
        api_key: str,
        api_token: str,
        base_url: str = DEFAULT_API_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(base_url=base_url, session=session, timeout_s=timeout_s)
        self._account_sid = account_sid
        self._headers = {
            "Authorization": basic_authorization(api_key, api_token),
            "Accept": "application/json",
        }

    async def connect_voice_ai(
        self, *, to: str, caller_id: str, stream_url: str, status_callback: str | None = None
    ) -> str:
        """Dial ``to``; once answered Exotel opens a bidirectional stream to ``stream_url``
        (Connect Voice AI). ``caller_id`` is your ExoPhone. Returns the call's Sid."""
        check_url(CARRIER, "StreamUrl", stream_url, ("wss", "ws"), query_ok=True)
        if len(stream_url) > MAX_STREAM_URL_CHARS:
            raise ValueError(
                f"{CARRIER}: StreamUrl must be at most {MAX_STREAM_URL_CHARS} characters, "
                f"got {len(stream_url)}"
            )
        form = [
            ("From", to),
            ("CallerId", caller_id),
            ("StreamUrl", stream_url),
            ("StreamType", "bidirectional"),
        ]
        if status_callback:
            form.append(("StatusCallback", status_callback))
        path = f"/v1/Accounts/{self._account_sid}/Calls/connect.json"
        status, body = await self._request("POST", path, headers=self._headers, form=form)
        if status not in (200, 201):
            raise self._fail("POST", path, status, body)
        call = _key(body, "call") if isinstance(body, dict) else None
        sid = _key(call, "sid") if isinstance(call, dict) else None
        if not isinstance(sid, str) or not sid:
            raise self._error("POST", path, status, None, "response has no Call Sid")
        return sid

    def _fail(self, method: str, path: str, status: int, body: object) -> CarrierRestError:
        code = detail = None
        if isinstance(body, dict):
            error = _key(body, "restexception")
            source = error if isinstance(error, dict) else body
            raw_code = _key(source, "code")
            code = str(raw_code) if raw_code is not None else None
            message = _key(source, "message")
            detail = message if isinstance(message, str) else None
        return self._error(method, path, status, code, detail or "")


# ------------------------------------------------------------------ settings + profile


def _sample_rate(name: str, raw: str) -> int:
    if not raw.isdigit() or int(raw) not in SUPPORTED_RATES:
        raise ConfigError(f"{name}: must be 8000, 16000 or 24000, got {raw!r}")
    return int(raw)


def _basic_user(name: str, raw: str) -> str:
    if ":" in raw:
        raise ConfigError(f"{name}: must not contain ':' (HTTP Basic user)")
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class ExotelSettings(CarrierSettings):
    """``EXOTEL_STREAM_USER``/``EXOTEL_STREAM_PASSWORD`` (the Basic credentials in the
    Voicebot applet's URL; the password enables Exotel), ``EXOTEL_ACCOUNT_SID``,
    ``EXOTEL_API_KEY``, ``EXOTEL_API_TOKEN`` (REST), ``EXOTEL_FROM_NUMBER`` (your ExoPhone,
    the caller id for make_call), ``EXOTEL_API_BASE_URL``, ``EXOTEL_SAMPLE_RATE`` (8000,
    16000 or 24000 Hz; default 8000)."""

    ENABLE_VAR = "EXOTEL_STREAM_PASSWORD"
    _enable_field = "stream_password"
    _required = (
        ("stream_user", "EXOTEL_STREAM_USER"),
        ("stream_password", "EXOTEL_STREAM_PASSWORD"),
        ("account_sid", "EXOTEL_ACCOUNT_SID"),
        ("api_key", "EXOTEL_API_KEY"),
        ("api_token", "EXOTEL_API_TOKEN"),
    )
    _rest_required = _required[2:]

    stream_user: str = var(
        "EXOTEL_STREAM_USER", "", doc="Basic user in the Voicebot applet's URL", parse=_basic_user
    )
    stream_password: str = var(
        "EXOTEL_STREAM_PASSWORD",
        "",
        doc="Basic password in the Voicebot applet's URL; enables Exotel",
        secret=True,
    )
    account_sid: str = var("EXOTEL_ACCOUNT_SID", "", doc="Exotel account (REST)")
    api_key: str = var("EXOTEL_API_KEY", "", doc="Exotel API key (REST Basic user)")
    api_token: str = var(
        "EXOTEL_API_TOKEN", "", doc="Exotel API token (REST Basic password)", secret=True
    )
    from_number: str = var("EXOTEL_FROM_NUMBER", "", doc="your ExoPhone: caller id for make_call")
    api_base_url: str = base_url_var("EXOTEL_API_BASE_URL", DEFAULT_API_BASE_URL, carrier="Exotel")
    sample_rate: int = var(
        "EXOTEL_SAMPLE_RATE",
        8000,
        doc="stream sample rate: 8000, 16000 or 24000 Hz",
        parse=_sample_rate,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        settings = load(cls, env)
        if settings.stream_password and not settings.stream_user:
            raise ConfigError("EXOTEL_STREAM_USER: required with EXOTEL_STREAM_PASSWORD")
        return settings


class ExotelProfile(CarrierProfile[ExotelSettings, ExotelRestClient]):
    """Exotel's Voicebot applet (AgentStream, bidirectional); see the module docstring.

    Outbound media goes in 100 ms messages (``outbound_frame_ms``): Exotel asks for a
    multiple of 320 bytes (20 ms at 8 kHz) and recommends at least 100 ms per message;
    100 ms is 1600/3200/4800 bytes at 8/16/24 kHz, every one a multiple of 320, and adds at
    most 100 ms before the first audio of an answer."""

    name = CARRIER
    settings_type = ExotelSettings
    outbound_frame_ms = 100
    rest_hangup = False

    transfer_unsupported = (
        "Exotel documents no REST call to transfer a live Voicebot call to a destination; "
        "the App Bazaar flow's next applet (e.g. Connect) takes the call when the stream "
        "closes"
    )

    @classmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """``connected`` with nothing but ``event``, or ``start`` with a top-level
        ``stream_sid`` and ``start.call_sid``."""
        event = obj.get("event")
        if event == "connected":
            return obj.keys() == {"event"}
        start = obj.get("start")
        return (
            event == "start"
            and "stream_sid" in obj
            and isinstance(start, dict)
            and "call_sid" in start
        )

    def codec(self) -> ExotelCodec:
        return ExotelCodec(sample_rate=self.settings.sample_rate)

    def verify_upgrade(self, headers: Mapping[str, str]) -> None:
        s = self.settings
        verify_basic_auth(
            user=s.stream_user,
            password=s.stream_password,
            authorization=headers.get("Authorization"),
        )

    def _new_rest(self) -> ExotelRestClient | None:
        s = self.settings
        if s.missing_rest_var() is not None:
            return None
        return ExotelRestClient(
            account_sid=s.account_sid,
            api_key=s.api_key,
            api_token=s.api_token,
            base_url=s.api_base_url,
        )

    def _stream_url(self, ws_url: str, token: str) -> str:
        s = self.settings
        return stream_url(
            ws_url=ws_url,
            user=s.stream_user,
            password=s.stream_password,
            sample_rate=s.sample_rate,
            parameters={TOKEN_PARAMETER: token},
        )

    def _verify(self, request: WebhookRequest) -> CallInfo:
        self.verify_upgrade(request.headers)
        return parse_stream_webhook(webhook_fields(request))

    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        return WebhookAnswer.json({"url": self._stream_url(ws_url, token)})

    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        # no stream URL: the applet cannot connect and the flow moves on [?]
        return WebhookAnswer.json({"error": "call rejected", "reason": reason}, status=404)

    async def _dial(self, rest: ExotelRestClient, request: DialRequest) -> Dialled:
        call_id = await rest.connect_voice_ai(
            to=request.to,
            caller_id=request.from_,
            stream_url=self._stream_url(request.ws_url, request.token),
        )
        return Dialled(call_id=call_id)
