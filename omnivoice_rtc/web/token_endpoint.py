"""``/api/token``: room tokens for browsers, with safe defaults.

* The server assigns the participant identity (``visitor-<16 hex>``). A caller never
  chooses it: joining a room with an identity that is already there would kick the
  participant who holds it.
* Without a ``room`` the visitor gets a room of their own (``web-<12 hex>``). A given
  room name must match :data:`ROOM_NAME_PATTERN` and must not start with a reserved
  prefix (:data:`RESERVED_ROOM_PREFIXES`, defined with the room names in
  :mod:`omnivoice_rtc.livekit.names`: every room the project creates for a phone call,
  shim or SIP, starts with one; those rooms are not joinable from the page).
* The agent (``OMNIVOICE_AGENT_NAME``) is dispatched through the token's room
  configuration, so it joins when the visitor does.
* At most :data:`TOKENS_PER_ADDRESS` requests per :data:`RATE_WINDOW_S` seconds per
  client address (every token dispatches an agent; refused ones count too, which
  slows down guessing the key); over that: 429 with Retry-After. Behind a proxy listed
  in ``OMNIVOICE_TRUSTED_PROXIES`` the client is named by ``X-Forwarded-For``; from
  anyone else that header is ignored (:mod:`omnivoice_rtc.web.ratelimit`).
* With ``OMNIVOICE_TOKEN_KEY`` set, the caller must send ``Authorization: Bearer <key>``
  or ``X-Omnivoice-Key: <key>`` (compared in constant time); otherwise 401.

Requests: ``POST`` with an optional JSON object body ``{"room": str, "name": str}`` or
``GET`` with the same as query parameters. Response (200, ``Cache-Control: no-store``):
``{"url", "token", "room", "identity", "agent_name", "expires_in_s"}``. Bad input gets
4xx with ``{"error": "<message>"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from aiohttp import web

from omnivoice_rtc._errors import TokenRequestError
from omnivoice_rtc.livekit.names import RESERVED_ROOM_PREFIXES
from omnivoice_rtc.livekit.tokens import generate_client_token
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.state.store import StateStore
from omnivoice_rtc.web.keys import METRICS_KEY, SETTINGS_KEY
from omnivoice_rtc.web.ratelimit import AddressRateLimit

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DISPLAY_NAME_CHARS",
    "RATE_WINDOW_S",
    "RESERVED_ROOM_PREFIXES",
    "ROOM_NAME_PATTERN",
    "TOKENS_PER_ADDRESS",
    "TOKEN_LIMITER_KEY",
    "TokenRequestError",
    "handle_token",
    "new_identity",
    "new_room_name",
    "new_token_limiter",
    "validate_display_name",
    "validate_room_name",
]

logger = logging.getLogger(__name__)

ROOM_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""1–64 characters: letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit."""
MAX_DISPLAY_NAME_CHARS: Final = 64
MAX_BODY_BYTES: Final = 4096
"""Largest accepted request body (bytes)."""

TOKENS_PER_ADDRESS: Final = 30
RATE_WINDOW_S: Final = 60.0

_ALLOWED_FIELDS: Final = frozenset({"room", "name"})
_KEY_HEADER: Final = "X-Omnivoice-Key"
_REFUSAL_REASONS: Final = {401: "unauthorized", 429: "rate_limited"}


TOKEN_LIMITER_KEY = web.AppKey("omnivoice_token_limiter", AddressRateLimit)
"""The app's /api/token rate limiter (created by :func:`~omnivoice_rtc.web.create_app`)."""


def new_token_limiter(store: StateStore, settings: Settings) -> AddressRateLimit:
    """The /api/token limit in ``store``, honouring ``settings``' trusted proxies."""
    return AddressRateLimit(
        store=store,
        name="api-token",
        limit=TOKENS_PER_ADDRESS,
        window_s=RATE_WINDOW_S,
        trusted_proxies=settings.limits.ingress.trusted_proxies,
    )


def new_identity() -> str:
    """A fresh, unguessable participant identity (64 random bits)."""
    return f"visitor-{secrets.token_hex(8)}"


def new_room_name() -> str:
    """A fresh per-visitor room name (48 random bits)."""
    return f"web-{secrets.token_hex(6)}"


def validate_room_name(room: object) -> str:
    """Return ``room`` if it is an acceptable room name; TokenRequestError otherwise."""
    if not isinstance(room, str):
        raise TokenRequestError("room: must be a string")
    if ROOM_NAME_PATTERN.fullmatch(room) is None:
        raise TokenRequestError(
            "room: must be 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    lowered = room.lower()
    for prefix in RESERVED_ROOM_PREFIXES:
        if lowered.startswith(prefix):
            raise TokenRequestError(f"room: the prefix {prefix!r} is reserved for phone calls")
    return room


def validate_display_name(name: object) -> str:
    """Return ``name`` stripped if acceptable (printable, at most 64 characters)."""
    if not isinstance(name, str):
        raise TokenRequestError("name: must be a string")
    name = name.strip()
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise TokenRequestError(f"name: must be at most {MAX_DISPLAY_NAME_CHARS} characters")
    if not name.isprintable():
        raise TokenRequestError("name: must not contain control characters")
    return name


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization")
    if auth is not None:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
    header = request.headers.get(_KEY_HEADER)
    return header.strip() if header is not None else None


def _check_key(request: web.Request, key: str) -> None:
    if not key:
        return
    presented = _presented_key(request)
    # surrogateescape: a header that is not UTF-8 compares (unequal) instead of raising
    presented_bytes = None if presented is None else presented.encode("utf-8", "surrogateescape")
    if presented_bytes is None or not hmac.compare_digest(presented_bytes, key.encode()):
        raise TokenRequestError("a valid key is required (Authorization: Bearer <key>)", status=401)


async def _read_fields(request: web.Request) -> Mapping[str, Any]:
    if request.method == "GET":
        fields: Mapping[str, Any] = dict(request.query)
    else:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise TokenRequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
        raw = await request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise TokenRequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
        if not raw.strip():
            fields = {}
        else:
            if request.content_type != "application/json":
                raise TokenRequestError("body: Content-Type must be application/json", status=415)
            try:
                parsed = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise TokenRequestError("body: not valid JSON") from None
            if not isinstance(parsed, dict):
                raise TokenRequestError("body: must be a JSON object")
            fields = parsed
    unknown = sorted(set(fields) - _ALLOWED_FIELDS)
    if unknown:
        raise TokenRequestError(
            f"unknown field(s): {', '.join(unknown)} (allowed: name, room; the server "
            "assigns the identity)"
        )
    return fields


async def _check_rate(request: web.Request) -> None:
    limiter = request.app[TOKEN_LIMITER_KEY]
    wait_s = await limiter.hit(limiter.client_of(request.remote, request.headers))
    if wait_s > 0:
        raise TokenRequestError(
            f"too many token requests: at most {TOKENS_PER_ADDRESS} per "
            f"{RATE_WINDOW_S:g} s per address",
            status=429,
            retry_after_s=wait_s,
        )


def _error(exc: TokenRequestError) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="omnivoice"'
    if exc.status == 429:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    return web.json_response({"error": str(exc)}, status=exc.status, headers=headers)


async def handle_token(request: web.Request) -> web.Response:
    """GET/POST /api/token (see the module docstring)."""
    settings: Settings = request.app[SETTINGS_KEY]
    metrics = request.app[METRICS_KEY]
    try:
        await _check_rate(request)  # first: also slows down guessing the shared key
        _check_key(request, settings.tokens.key)
        fields = await _read_fields(request)
        room_field = fields.get("room")
        room = new_room_name() if room_field in (None, "") else validate_room_name(room_field)
        name = validate_display_name(fields.get("name", ""))
    except TokenRequestError as exc:
        reason = _REFUSAL_REASONS.get(exc.status, "bad_request")
        metrics.tokens_refused.labels(reason=reason).inc()
        logger.info("token request refused", extra={"status": exc.status, "reason": str(exc)})
        return _error(exc)

    identity = new_identity()
    token = generate_client_token(
        room,
        identity,
        name,
        ttl=timedelta(seconds=settings.tokens.ttl_s),
        agent_name=settings.agent_name,
        credentials=settings.livekit,
    )
    metrics.tokens_issued.inc()
    logger.info("token issued", extra={"room": room, "identity": identity})
    return web.json_response(
        {
            "url": settings.livekit.url,
            "token": token,
            "room": room,
            "identity": identity,
            "agent_name": settings.agent_name,
            "expires_in_s": settings.tokens.ttl_s,
        },
        headers={"Cache-Control": "no-store"},
    )
