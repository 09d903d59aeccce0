"""Open a carrier media WebSocket: read the first frames, detect the carrier, redeem the token.

Nothing joins a room until :func:`open_stream` returns: an unknown, reused, expired or
missing stream token closes the socket with 1008 (policy violation) first.

Where the one-time token travels (reference section 0; the markup puts it there):

=========  ===============================================================================
Twilio     ``start.customParameters.token`` (``<Parameter>``; Twilio drops query strings)
Telnyx     ``start.custom_parameters.token`` or the ``x-telnyx-streaming-auth-token`` header
Vonage     the NCCO ``headers`` (flattened into ``websocket:connected``) or
           ``Authorization: Bearer <token>`` on the upgrade (``authorization.type=custom``)
Plivo      ``extra_headers`` ``token=...`` on ``start`` (Plivo sends no ``connected``)
=========  ===============================================================================
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import WSMsgType, web

from omnivoice_rtc._errors import StreamRejected
from omnivoice_rtc.carriers import telnyx as telnyx_api
from omnivoice_rtc.carriers.stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore
from omnivoice_rtc.media_streams.detect import codec_for, detect_carrier
from omnivoice_rtc.media_streams.messages import Carrier, Connected, MediaStreamCodec, Start
from omnivoice_rtc.media_streams.plivo import PlivoCodec
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec
from omnivoice_rtc.shim.policy import CLOSE_POLICY, CallCounters, MediaPolicy

__all__ = [
    "PENDING_CALL_PREFIX",
    "TOKEN_PARAMETER",
    "OpenedStream",
    "StreamRejected",
    "open_stream",
]

logger = logging.getLogger(__name__)

TOKEN_PARAMETER: Final = "token"
"""Name of the custom parameter / header that carries the one-time stream token."""
TELNYX_TOKEN_HEADER: Final = "x-telnyx-streaming-auth-token"
PENDING_CALL_PREFIX: Final = "pending-"
"""Call id of a token issued by ``make_call`` before the carrier assigned the real id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedStream:
    """A media stream whose token was redeemed: ``codec`` is bound to it."""

    carrier: Carrier
    codec: MediaStreamCodec
    opening: Start | Connected
    grant: StreamGrant
    start: Start | None
    """The ``start`` message (None for Vonage, whose stream opens with ``connected``)."""


def _bind(codec: MediaStreamCodec, message: Start | Connected) -> MediaStreamCodec:
    if isinstance(message, Start) and isinstance(codec, TwilioCodec | TelnyxCodec | PlivoCodec):
        return codec.for_start(message)
    if isinstance(message, Connected) and isinstance(codec, VonageCodec):
        return codec.for_connected(message)
    return codec


def _token_from(
    carrier: Carrier,
    message: Start | Connected,
    headers: Mapping[str, str],
    connected_token: str | None,
) -> str | None:
    token = message.custom_parameters.get(TOKEN_PARAMETER)
    if token:
        return token
    if carrier == "telnyx":
        if isinstance(message, Start):
            token = telnyx_api.stream_token_from_start(message)
        return token or headers.get(TELNYX_TOKEN_HEADER) or connected_token or None
    if carrier == "vonage":
        auth = headers.get("Authorization", "")
        if auth.startswith("Bearer ") and "." not in auth:  # a custom token, not Vonage's JWT
            return auth[len("Bearer ") :].strip() or None
    return None


async def _next_frame(ws: web.WebSocketResponse, deadline: float) -> str | bytes:
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise StreamRejected("no start before the deadline", code=CLOSE_POLICY)
    try:
        msg = await ws.receive(timeout=remaining)
    except TimeoutError:
        raise StreamRejected("no start before the deadline", code=CLOSE_POLICY) from None
    if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
        data: str | bytes = msg.data
        return data
    raise StreamRejected("closed before start", code=ws.close_code or 1000)


async def open_stream(
    ws: web.WebSocketResponse,
    *,
    tokens: StreamTokenStore,
    policy: MediaPolicy,
    counters: CallCounters,
    carrier: Carrier | None = None,
    codecs: Mapping[Carrier, MediaStreamCodec] | None = None,
    headers: Mapping[str, str] | None = None,
) -> OpenedStream:
    """Read frames until the one that carries the token; redeem it or close with 1008.

    ``carrier`` None means detect it from the first frame (the generic path).
    ``codecs`` overrides the default codec per carrier (e.g. Vonage 8 kHz, Plivo L16).
    Frames before the opening one other than ``connected`` are counted and dropped.
    Raises :class:`StreamRejected` after closing the socket.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.start_timeout_s
    headers = headers or {}
    codec: MediaStreamCodec | None = None
    connected_token: str | None = None
    try:
        for _ in range(policy.max_frames_before_start + 1):
            frame = await _next_frame(ws, deadline)
            if codec is None:
                try:
                    carrier = carrier or detect_carrier(frame)
                except ValueError:
                    counters.dropped_before_start += 1
                    continue
                codec = (codecs or {}).get(carrier) or codec_for(carrier)
            assert carrier is not None  # reason: set together with codec above
            try:
                message = codec.parse(frame)
            except ValueError:
                counters.dropped_invalid += 1
                continue
            is_opening = isinstance(message, Start) or (
                isinstance(message, Connected) and carrier == "vonage"
            )
            if not is_opening:
                if isinstance(message, Connected):
                    extra_token = message.extra.get(TELNYX_TOKEN_HEADER)
                    connected_token = extra_token if isinstance(extra_token, str) else None
                else:
                    counters.dropped_before_start += 1
                continue
            assert isinstance(message, Start | Connected)  # reason: is_opening above
            token = _token_from(carrier, message, headers, connected_token)
            try:
                grant = tokens.redeem(token, carrier)
            except StreamTokenError as exc:
                raise StreamRejected(f"stream token {exc.reason}", code=CLOSE_POLICY) from None
            pending = grant.call_id.startswith(PENDING_CALL_PREFIX)  # dialled by make_call
            if isinstance(message, Start) and not pending and message.call_id != grant.call_id:
                raise StreamRejected("stream token is for another call", code=CLOSE_POLICY)
            return OpenedStream(
                carrier=carrier,
                codec=_bind(codec, message),
                opening=message,
                grant=grant,
                start=message if isinstance(message, Start) else None,
            )
        raise StreamRejected("too many frames before start", code=CLOSE_POLICY)
    except StreamRejected as exc:
        logger.info("media stream rejected", extra={"reason": exc.reason, "carrier": carrier})
        if not ws.closed:
            await ws.close(code=exc.code, message=exc.reason.encode()[:120])
        raise
