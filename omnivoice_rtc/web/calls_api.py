"""``POST /api/calls``: place an outbound carrier call from the running web server.

``omnivoice-rtc call --via twilio|telnyx|vonage|plivo|exotel`` asks this endpoint instead of
dialling itself: the carrier connects back to the server (answer webhook, media
WebSocket); the call's one-time stream token and pending-call record live in the shared
state (this process's memory, or Redis with ``OMNIVOICE_REDIS_URL``: then the stream may
reach any replica, and the call counts as answered when it does).

Authentication: ``Authorization: Bearer <OMNIVOICE_TOKEN_KEY>`` (or ``X-Omnivoice-Key``),
compared in constant time. Placing calls costs money, so unlike ``/api/token`` the
endpoint is closed (403) while ``OMNIVOICE_TOKEN_KEY`` is unset.

Request (JSON object, at most 4096 bytes)::

    {"to": "+15550100", "via": "twilio", "agent_name": "optional", "ring_timeout_s": 60}

``agent_name`` dispatches that agent (a worker registered under it) to the call's room
instead of the server's; ``ring_timeout_s`` (1-300 s, default 60) is how long to wait for
the callee to answer (the carrier to open the media stream).

Response (200, ``Cache-Control: no-store``), once the call is answered, failed or timed out::

    {"outcome": "answered" | "no_answer" | "failed", "via", "to", "call_id", "room",
     "participant", "waited_s", "detail", "status", "code"}

``failed``: the carrier's REST API refused the call (``status``: its HTTP status, 0 for no
response; ``code``: its error code, when its body has one). ``no_answer``: no media stream
within ``ring_timeout_s`` (a busy line looks the same: the carriers' busy/no-answer
status callbacks are not wired to the dial requests yet; the call is hung up over REST).
Errors (``{"error": message}``): 400 bad input or a carrier that cannot dial, 401 wrong
key, 403 no key configured, 404 carrier not served here, 413 body too large, 415 not JSON,
429 an outbound limit reached, 503 a setting missing (the message names it).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from omnivoice_rtc._errors import (
    CarrierRestError,
    ConfigError,
    LimitError,
    RequestError,
    UnsupportedActionError,
)
from omnivoice_rtc.livekit.names import call_participant_identity, call_room_name
from omnivoice_rtc.logs import pii
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.routes import CARRIER_GATEWAYS_KEY
from omnivoice_rtc.web.installers import RouteInstaller
from omnivoice_rtc.web.keys import SETTINGS_KEY

__all__ = [
    "CALLS_PATH",
    "DEFAULT_RING_TIMEOUT_S",
    "CallRequest",
    "calls_api_installer",
    "install_calls_api",
    "parse_call_request",
]

logger = logging.getLogger(__name__)

CALLS_PATH: Final = "/api/calls"
MAX_BODY_BYTES: Final = 4096
"""Largest accepted request body (bytes)."""
DEFAULT_RING_TIMEOUT_S: Final = 60.0
MAX_RING_TIMEOUT_S: Final = 300.0
_KEY_HEADER: Final = "X-Omnivoice-Key"
_NUMBER: Final = re.compile(r"\+?[0-9]{3,20}")
_AGENT_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_POLL_S: Final = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRequest:
    """A validated ``POST /api/calls`` body; ``ring_timeout_s`` in seconds."""

    to: str
    via: str
    agent_name: str = ""
    ring_timeout_s: float = DEFAULT_RING_TIMEOUT_S


def parse_call_request(body: object) -> CallRequest:
    """Validate a decoded JSON body; RequestError (400) naming the field at fault."""
    if not isinstance(body, dict):
        raise RequestError("body: must be a JSON object")
    unknown = sorted(set(body) - {"to", "via", "agent_name", "ring_timeout_s"})
    if unknown:
        raise RequestError(f"unknown field(s): {', '.join(unknown)}")
    to, via = body.get("to"), body.get("via")
    if not isinstance(to, str) or _NUMBER.fullmatch(to) is None:
        raise RequestError("to: must be a phone number (digits, optional leading +)")
    if not isinstance(via, str) or not via:
        raise RequestError("via: must name a carrier")
    agent = body.get("agent_name", "")
    if not isinstance(agent, str) or (agent and _AGENT_NAME.fullmatch(agent) is None):
        raise RequestError("agent_name: must be 1-128 letters, digits, '.', '_' or '-'")
    timeout = body.get("ring_timeout_s", DEFAULT_RING_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 1 <= timeout <= MAX_RING_TIMEOUT_S
    ):
        raise RequestError(
            f"ring_timeout_s: must be a number of seconds in 1-{MAX_RING_TIMEOUT_S:g}"
        )
    return CallRequest(to=to, via=via, agent_name=agent, ring_timeout_s=float(timeout))


def _check_key(request: web.Request, key: str) -> None:
    if not key:
        raise RequestError(
            "OMNIVOICE_TOKEN_KEY: not set; the web server places calls only for callers "
            "that present it",
            status=403,
        )
    presented = ""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        presented = credential.strip()
    presented = presented or request.headers.get(_KEY_HEADER, "").strip()
    if not presented or not hmac.compare_digest(presented.encode(), key.encode()):
        raise RequestError("a valid key is required (Authorization: Bearer <key>)", status=401)


async def _read_body(request: web.Request) -> object:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise RequestError(f"body: larger than {MAX_BODY_BYTES} bytes", status=413)
    if request.content_type != "application/json":
        raise RequestError("body: Content-Type must be application/json", status=415)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RequestError("body: not valid JSON") from None


def _gateway(app: web.Application, via: str) -> MediaStreamGateway:
    gateways: dict[str, MediaStreamGateway] = app.get(CARRIER_GATEWAYS_KEY, {})
    gateway = gateways.get(via)
    if gateway is None:
        served = ", ".join(sorted(gateways)) or "none"
        raise RequestError(
            f"via: {via!r} is not served by this web server (served: {served})", status=404
        )
    return gateway


async def _wait_answered(
    gateway: MediaStreamGateway, session: PstnSession, timeout_s: float
) -> bool:
    """True once the carrier opened the call's media stream (the callee answered), here or
    on another replica (the balancer may send the stream to any)."""
    deadline = time.monotonic() + timeout_s
    while session.bridge is None:
        if await gateway.answered_elsewhere(session):
            return True
        if session.closed or time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True


async def _place(gateway: MediaStreamGateway, call: CallRequest) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"via": call.via, "to": call.to, "call_id": "", "room": ""}
    try:
        session = await gateway.make_call(call.to, agent_name=call.agent_name)
    except CarrierRestError as exc:
        logger.info(
            "outbound call refused by the carrier",
            extra={"carrier": call.via, "status": exc.status, "code": exc.code, **pii(to=call.to)},
        )
        return {
            **result,
            "outcome": "failed",
            "status": exc.status,
            "code": exc.code or "",
            "detail": str(exc),
            "waited_s": 0.0,
        }
    answered = await _wait_answered(gateway, session, call.ring_timeout_s)
    waited_s = round(time.monotonic() - started, 3)
    result.update(call_id=session.id, waited_s=waited_s, status=0, code="")
    if answered:
        result.update(
            outcome="answered",
            room=call_room_name(call.via, session.id),
            participant=call_participant_identity(call.via, session.id),
            detail="the carrier opened the media stream",
        )
    else:
        result.update(
            outcome="no_answer", detail=f"no media stream within {call.ring_timeout_s:g} s"
        )
        await _hang_up(gateway, session.id)
    logger.info(
        "outbound call placed",
        extra={
            "carrier": call.via,
            "call_id": session.id,
            "outcome": result["outcome"],
            **pii(to=call.to),
        },
    )
    return result


async def _hang_up(gateway: MediaStreamGateway, call_id: str) -> None:
    """Cancel a call nobody answered (best effort: the carrier may have ended it)."""
    try:
        await gateway.profile.hangup(call_id)
    except CarrierRestError as exc:
        logger.warning(
            "unanswered call hang-up failed", extra={"call_id": call_id, "error": str(exc)}
        )


def _error(message: str, status: int) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers={"Cache-Control": "no-store"}
    )


async def handle_calls(request: web.Request) -> web.Response:
    """POST /api/calls (see the module docstring)."""
    settings: Settings = request.app[SETTINGS_KEY]
    try:
        _check_key(request, settings.tokens.key)
        call = parse_call_request(await _read_body(request))
        gateway = _gateway(request.app, call.via)
        result = await _place(gateway, call)
    except RequestError as exc:
        logger.info("call request refused", extra={"status": exc.status, "reason": str(exc)})
        return _error(str(exc), exc.status)
    except ConfigError as exc:  # public URL or REST credentials missing: names the variable
        return _error(str(exc), 503)
    except UnsupportedActionError as exc:  # the carrier cannot dial out
        return _error(str(exc), 400)
    except LimitError as exc:  # an outbound limit (rate, concurrent calls) was reached
        return _error(str(exc), 429)
    return web.json_response(result, headers={"Cache-Control": "no-store"})


def install_calls_api(app: web.Application) -> None:
    """Route installer: ``POST /api/calls`` (the carrier gateways are found at request
    time, so it may be installed before or after the carrier routes)."""
    app.router.add_post(CALLS_PATH, handle_calls, name="place_call")


def calls_api_installer() -> RouteInstaller:
    """The installer as a value, for ``create_app(route_installers=[...])``."""
    return install_calls_api
