"""CarrierProfile: everything one carrier is, behind one interface.

A profile is what the shim, the web routes, the dev stack and carrier detection know about
a carrier: its name, its settings (:class:`CarrierSettings`), its media codec and how the
codec binds to the stream, how its first frame looks, which message opens its stream and
where the one-time stream token travels, how its webhook is verified and parsed into a
:class:`~omnivoice_rtc.types.CallInfo`, its accept/reject answers (a neutral
:class:`WebhookAnswer`, no aiohttp), dialling, hanging up, and the REST client it owns.

The base class owns the policy every carrier shares; a carrier implements hooks:

================================  =====================================================
base (policy)                     carrier hook
================================  =====================================================
``verify``                        ``_verify(request) -> CallInfo`` (SignatureError, ValueError)
``accept``                        ``_accept(call, ws_url, token) -> WebhookAnswer``
``reject`` (reason normalised)    ``_reject(call, "busy" | "rejected") -> WebhookAnswer``
``dial`` (REST required:          ``_dial(rest, DialRequest) -> Dialled``
ConfigError names the variable)
``hangup`` (no REST: closing      ``_hangup(rest, call_id)``; ``rest_hangup = False``
the socket is the hang-up)        when the carrier documents none
``send_digits`` (False: in-band)  ``_send_digits(rest, call_id, digits)``; ``rest_digits``
``transfer`` (REST required;      ``_transfer(rest, call_id, TransferTarget, document_url)``;
``capabilities``)                 ``transfer_unsupported`` (the reason) when the carrier
                                  documents none; ``transfer_needs_document`` +
                                  ``transfer_document(target)`` when the carrier fetches
                                  the transfer's markup from a URL (Plivo)
``aclose`` (closes the REST       ``_new_rest() -> REST client | None`` (from settings)
client it created)
``bind`` (``codec.bind``)         ``codec() -> MediaStreamCodec``
``is_opening``                    ``opening_message`` (``Start`` or ``Connected``)
``stream_token``                  override when the token is not a custom parameter
(``custom_parameters["token"]``)
detection                         ``matches_first_frame(obj)`` (class method)
``replay_keys`` (none)            what makes one signed request unique: a nonce (Plivo),
                                  a JWT id (Vonage), a signature (Telnyx)
``account_of`` (the carrier)      the carrier account a webhook came from (rate limits)
``already_answered`` (409)        the answer to a second webhook for an answered call
================================  =====================================================

Replays: the gateway records each ``replay_keys`` entry (for its TTL, or
``OMNIVOICE_REPLAY_CACHE_S``) and refuses a request whose key it has seen with 403; it
remembers each answered call id and answers a second webhook for it with
``already_answered`` (no second stream token).

Adding a carrier: a pure codec in ``media_streams/<name>.py``, its settings and profile in
``carriers/<name>.py``, and one line in :mod:`omnivoice_rtc.carriers.registry`
(docs/carriers.md, "Adding a carrier").
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, Protocol, Self, TypeVar
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError, UnsupportedActionError
from omnivoice_rtc.media_streams.messages import (
    Connected,
    InboundMessage,
    MediaStreamCodec,
    Start,
)
from omnivoice_rtc.settings._env import load, var
from omnivoice_rtc.types import CallInfo
from omnivoice_rtc.types.call_control import (
    CARRIER_WARM_TRANSFER_REASON,
    CallAction,
    Capabilities,
    TransferTarget,
)

__all__ = [
    "TOKEN_PARAMETER",
    "CarrierProfile",
    "CarrierSettings",
    "DialRequest",
    "Dialled",
    "ReplayKeys",
    "RestCallControl",
    "WebhookAnswer",
    "WebhookRequest",
    "base_url_var",
    "reject_reason",
    "request_digest",
    "webhook_fields",
    "webhook_json",
]

TOKEN_PARAMETER: Final = "token"
"""Name of the custom parameter / header that carries the one-time stream token."""

XML: Final = "text/xml"
JSON: Final = "application/json"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookRequest:
    """A webhook as received: ``url`` is the public URL the carrier requested (scheme,
    host, path, query) as used for signatures; ``form`` the POST form fields (empty for
    GET/JSON); ``raw_body`` the exact bytes."""

    method: str
    url: str
    headers: Mapping[str, str]
    query: Sequence[tuple[str, str]]
    form: Mapping[str, str]
    raw_body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAnswer:
    """What to answer a webhook with: HTTP ``status``, ``content_type`` and ``body``."""

    status: int = 200
    content_type: str = JSON
    body: str = "{}"

    @classmethod
    def json(cls, value: Any, *, status: int = 200) -> WebhookAnswer:
        """``value`` as compact JSON (``application/json``)."""
        return cls(status=status, content_type=JSON, body=json.dumps(value, separators=(",", ":")))

    @classmethod
    def xml(cls, document: str) -> WebhookAnswer:
        """An XML document (TwiML, TeXML, Plivo XML) as ``text/xml``."""
        return cls(content_type=XML, body=document)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialRequest:
    """An outbound call to place: ``ws_url`` is our media WebSocket (``wss://``),
    ``answer_url`` our answer webhook for carriers that fetch markup on answer, ``token``
    the one-time stream token the stream must present."""

    to: str
    from_: str
    ws_url: str
    answer_url: str
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialled:
    """An outbound call placed over REST: the carrier's id for it."""

    call_id: str


ReplayKeys = tuple[tuple[str, float | None], ...]
"""``(key, ttl_s)`` pairs from :meth:`CarrierProfile.replay_keys`."""


def request_digest(*parts: str | bytes) -> str:
    """A short, fixed-length key for request material of any length (SHA-256, hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()[:40]


class RestCallControl(Protocol):
    """What the base class needs from a carrier's REST client: closing it."""

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- settings


def base_url_var(name: str, default: str, *, carrier: str) -> Any:
    """A settings field for a REST API base URL (http/https, no trailing slash)."""
    return var(
        name, default, doc=f"{carrier} REST API base URL (tests: a loopback fake)", parse=_base_url
    )


def _base_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: must be an http/https URL with a host, got {raw!r}")
    return raw.rstrip("/")


class CarrierSettings:
    """Base of the carrier settings (frozen keyword-only dataclasses with
    ``from_env(env)``, which never fails on a missing variable).

    ``ENABLE_VAR`` is the variable that turns the carrier's routes on (its webhook key);
    ``_required`` maps field -> variable for :attr:`is_configured` / :meth:`require`;
    ``_rest_required`` the fields its REST client needs (:meth:`missing_rest_var`).
    """

    __slots__ = ()

    ENABLE_VAR: ClassVar[str] = ""
    _enable_field: ClassVar[str] = ""
    _required: ClassVar[tuple[tuple[str, str], ...]] = ()
    _rest_required: ClassVar[tuple[tuple[str, str], ...]] = ()

    from_number: str
    """Caller id for ``make_call``."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Every field declared with ``var`` from ``env`` (never fails on a missing one)."""
        return load(cls, env)

    @property
    def enabled(self) -> bool:
        """True when ``ENABLE_VAR`` is set: the carrier's webhooks and streams are served."""
        return bool(getattr(self, self._enable_field))

    @property
    def is_configured(self) -> bool:
        """True when every required variable is set."""
        return all(getattr(self, attr) for attr, _ in self._required)

    def require(self) -> Self:
        """Return self, or raise ConfigError naming the first missing variable."""
        for attr, env_name in self._required:
            if not getattr(self, attr):
                raise ConfigError(f"{env_name}: required for this carrier but not set")
        return self

    def missing_rest_var(self) -> str | None:
        """The first variable the REST client needs that is not set (None: all set)."""
        for attr, env_name in self._rest_required:
            if not getattr(self, attr):
                return env_name
        return None


# --------------------------------------------------------------------------- helpers


def reject_reason(reason: str) -> str:
    """A handler's reject reason as the carriers know it: ``busy`` or ``rejected``."""
    return reason if reason in ("busy", "rejected") else "rejected"


def webhook_fields(request: WebhookRequest) -> dict[str, str]:
    """Form fields of a POST, or the query of a GET (plus any form fields)."""
    fields = dict(request.query) if request.method == "GET" else {}
    fields.update(request.form)
    return fields


def webhook_json(request: WebhookRequest, carrier: str) -> dict[str, Any]:
    """The webhook's JSON body; ValueError when it is not a JSON object (nested too
    deeply or holding numbers too long for Python included)."""
    try:
        body = json.loads(request.raw_body)
    except RecursionError:
        raise ValueError(f"{carrier}: webhook JSON is nested too deeply") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, integers over 4300 digits
        raise ValueError(f"{carrier}: webhook body is not JSON") from None
    if not isinstance(body, dict):
        raise ValueError(f"{carrier}: webhook JSON must be an object")
    return body


# --------------------------------------------------------------------------- profile

S = TypeVar("S", bound=CarrierSettings)
R = TypeVar("R", bound=RestCallControl)


class CarrierProfile(ABC, Generic[S, R]):
    """One carrier (see the module docstring). ``settings`` come from the environment or
    code; ``rest`` overrides the REST client built from them (the caller then owns it).
    Profiles are cheap; one per served carrier lives as long as its gateway."""

    name: ClassVar[str]
    """The carrier's name: routes, room names, ``CallInfo.carrier``, ``ProviderName``."""
    settings_type: ClassVar[type[CarrierSettings]]
    opening_message: ClassVar[type[Start] | type[Connected]] = Start
    """The message that opens the stream (and carries the stream token)."""
    first_events: ClassVar[frozenset[str]] = frozenset({"connected", "start"})
    """``event`` values of the carrier's possible first frames (detection's error texts)."""
    outbound_frame_ms: ClassVar[int] = 20
    """Duration of each outbound media message (ms)."""
    rest_hangup: ClassVar[bool] = True
    """False: the carrier documents no REST hang-up; closing the socket ends the call."""
    transfer_unsupported: ClassVar[str] = ""
    """Why the carrier cannot cold-transfer a live stream call ("" = it can, over REST)."""
    rest_digits: ClassVar[bool] = False
    """True: the carrier has a REST call that plays DTMF digits into a live call
    (:meth:`send_digits`); otherwise digits go in-band in our audio."""
    transfer_needs_document: ClassVar[bool] = False
    """True: the carrier fetches the transfer's markup from a URL we serve
    (:meth:`transfer_document`), so a transfer needs a public URL."""

    def __init__(self, *, settings: S, rest: R | None = None) -> None:
        self.settings = settings
        self._owns_rest = rest is None
        self.rest: R | None = rest if rest is not None else self._new_rest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rest={'yes' if self.rest is not None else 'no'})"

    # ------------------------------------------------------------------ media stream

    @classmethod
    @abstractmethod
    def matches_first_frame(cls, obj: Mapping[str, Any]) -> bool:
        """True when ``obj`` (a first frame's JSON object) can be this carrier's."""

    @abstractmethod
    def codec(self) -> MediaStreamCodec:
        """A codec for a new stream, set up from the settings."""

    def bind(self, codec: MediaStreamCodec, message: InboundMessage) -> MediaStreamCodec:
        """The codec for the frames after ``message`` (stream id, sample rate)."""
        return codec.bind(message)

    def is_opening(self, message: InboundMessage) -> bool:
        """True for the message that opens the stream (``opening_message``)."""
        return isinstance(message, self.opening_message)

    def stream_token(
        self,
        opening: Start | Connected,
        headers: Mapping[str, str],
        earlier: Sequence[InboundMessage],
    ) -> str | None:
        """The stream token: by default the ``token`` custom parameter of the opening
        message. ``headers`` are the WebSocket upgrade's, ``earlier`` the messages parsed
        before the opening one (a Telnyx ``connected``)."""
        return opening.custom_parameters.get(TOKEN_PARAMETER) or None

    def verify_upgrade(self, headers: Mapping[str, str]) -> None:
        """Check the WebSocket upgrade's own credentials (SignatureError); by default
        there are none: the stream token is the credential."""

    # ------------------------------------------------------------------ webhook

    def verify(self, request: WebhookRequest) -> CallInfo:
        """Check the webhook's signature (SignatureError) and parse the call (ValueError)."""
        return self._verify(request)

    @abstractmethod
    def _verify(self, request: WebhookRequest) -> CallInfo: ...

    def replay_keys(self, request: WebhookRequest, call: CallInfo) -> ReplayKeys:
        """``(key, ttl_s)`` pairs that identify this exact signed request (``ttl_s`` None:
        ``OMNIVOICE_REPLAY_CACHE_S``); a second request with one of them is a replay. The
        request is already verified. By default none: the answered call id is the guard."""
        return ()

    def account_of(self, call: CallInfo) -> str:
        """The carrier account ``call``'s webhook came from ("" = the carrier as a whole):
        the key of the per-account webhook rate limit and stream-token quota."""
        return ""

    def already_answered(self, call: CallInfo) -> WebhookAnswer:
        """The answer to a webhook offering a call that was already answered (a replay or
        a duplicate delivery): no stream token. 409 unless the carrier documents better."""
        return WebhookAnswer(status=409, content_type="text/plain", body="call already answered")

    def sends_stream_url_over_rest(self, call: CallInfo) -> bool:
        """True when answering ``call`` hands the stream URL to the carrier's REST API
        (Telnyx Call Control) rather than in the webhook's answer: that URL must then come
        from ``OMNIVOICE_PUBLIC_URL``, never from a request's Host header."""
        return False

    def is_new_call(self, call: CallInfo) -> bool:
        """False for a webhook that only reports on a call (answered, hung up, ...): it is
        acknowledged and asks nobody anything."""
        return True

    def ensure_answerable(self, call: CallInfo) -> None:
        """Raise ConfigError (naming the missing variable) when ``call`` cannot be answered
        or rejected with the current settings; checked before the handler is asked."""

    async def accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer:
        """Answer ``call`` with a stream to ``ws_url`` (``wss://``) carrying ``token``."""
        return await self._accept(call, ws_url=ws_url, token=token)

    @abstractmethod
    async def _accept(self, call: CallInfo, *, ws_url: str, token: str) -> WebhookAnswer: ...

    async def reject(self, call: CallInfo, reason: str) -> WebhookAnswer:
        """Refuse ``call``; ``reason`` is a handler's (``busy``; anything else = rejected)."""
        return await self._reject(call, reject_reason(reason))

    @abstractmethod
    async def _reject(self, call: CallInfo, reason: str) -> WebhookAnswer: ...

    # ------------------------------------------------------------------ call control

    def _new_rest(self) -> R | None:
        """The REST client the settings allow (None without REST credentials)."""
        return None

    def require_rest(self, what: str) -> R:
        """The REST client, or ConfigError naming the missing variable."""
        if self.rest is None:
            missing = self.settings.missing_rest_var() or f"{self.name.upper()} REST credentials"
            raise ConfigError(f"{missing}: required for {what} on {self.name} but not set")
        return self.rest

    @property
    def can_hang_up(self) -> bool:
        """True when :meth:`hangup` ends the call at the carrier (REST)."""
        return self.rest_hangup and self.rest is not None

    async def dial(self, request: DialRequest) -> Dialled:
        """Place an outbound call whose answered stream comes to ``request.ws_url``."""
        return await self._dial(self.require_rest("make_call"), request)

    async def _dial(self, rest: R, request: DialRequest) -> Dialled:
        raise UnsupportedActionError(
            f"{self.name}: make_call is not supported", action="make_call", route=self.name
        )

    async def hangup(self, call_id: str) -> None:
        """End the call at the carrier over REST (nothing when :attr:`can_hang_up` is false)."""
        if self.can_hang_up:
            assert self.rest is not None  # reason: can_hang_up checked it
            await self._hangup(self.rest, call_id)

    async def _hangup(self, rest: R, call_id: str) -> None:
        raise UnsupportedActionError(
            f"{self.name}: no REST hang-up", action="hangup", route=self.name
        )

    def capabilities(self, *, can_serve_documents: bool = False) -> Capabilities:
        """Which call-control actions a stream call of this carrier supports. Hold,
        resume and DTMF (in-band) work on every carrier; hang-up is the REST hang-up or
        closing the stream; transfer needs the carrier's REST transfer and credentials
        (and, for :attr:`transfer_needs_document`, a public URL to serve its markup)."""
        unsupported: dict[str, str] = {CallAction.WARM_TRANSFER: CARRIER_WARM_TRANSFER_REASON}
        if self.transfer_unsupported:
            unsupported[CallAction.TRANSFER] = self.transfer_unsupported
        elif self.rest is None:
            missing = self.settings.missing_rest_var() or f"{self.name.upper()} REST credentials"
            unsupported[CallAction.TRANSFER] = f"needs the REST API: {missing} is not set"
        elif self.transfer_needs_document and not can_serve_documents:
            unsupported[CallAction.TRANSFER] = (
                "the carrier fetches the transfer's XML from our server: "
                "OMNIVOICE_PUBLIC_URL is not set"
            )
        return Capabilities.of(self.name, unsupported)

    def transfer_document(self, target: TransferTarget) -> WebhookAnswer:
        """The markup a carrier with :attr:`transfer_needs_document` fetches for ``target``."""
        raise UnsupportedActionError(
            f"{self.name}: no transfer document", action="transfer", route=self.name
        )

    async def transfer(
        self, call_id: str, target: TransferTarget, *, document_url: str = ""
    ) -> None:
        """Cold-transfer the live call ``call_id`` to ``target`` over REST; ``document_url``
        serves :meth:`transfer_document` (carriers with :attr:`transfer_needs_document`)."""
        if self.transfer_unsupported:
            raise UnsupportedActionError(
                f"{self.name}: transfer is not supported: {self.transfer_unsupported}",
                action="transfer",
                route=self.name,
            )
        rest = self.require_rest("transfer")
        if self.transfer_needs_document and not document_url:
            raise ConfigError(f"OMNIVOICE_PUBLIC_URL: required for transfer on {self.name}")
        await self._transfer(rest, call_id, target, document_url)

    async def send_digits(self, call_id: str, digits: str) -> bool:
        """Play ``digits`` into the live call over REST when the carrier can
        (:attr:`rest_digits` and credentials); False: the caller sends them in-band."""
        if not self.rest_digits or self.rest is None:
            return False
        await self._send_digits(self.rest, call_id, digits)
        return True

    async def _send_digits(self, rest: R, call_id: str, digits: str) -> None:
        raise UnsupportedActionError(f"{self.name}: no REST digits", action="dtmf", route=self.name)

    async def _transfer(
        self, rest: R, call_id: str, target: TransferTarget, document_url: str
    ) -> None:
        raise UnsupportedActionError(
            f"{self.name}: transfer is not supported", action="transfer", route=self.name
        )

    async def aclose(self) -> None:
        """Close the REST client this profile created."""
        if self.rest is not None and self._owns_rest:
            await self.rest.aclose()
