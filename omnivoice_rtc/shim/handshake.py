"""Open a carrier media WebSocket: read the first frames, detect the carrier, redeem the token.

Nothing joins a room until :func:`open_stream` returns: an unknown, reused, expired or
missing stream token (or an upgrade whose credentials the carrier's profile refuses)
closes the socket with 1008 (policy violation) first; more unparseable frames than the
policy's ``max_invalid_frames`` (deep nesting, huge numbers, bad UTF-8: never an
exception) close it with 1007.

Everything carrier-specific comes from the carrier's profile
(:class:`~omnivoice_rtc.carriers.profile.CarrierProfile`): detection
(``matches_first_frame``, over :mod:`~omnivoice_rtc.carriers.registry`), the codec and its
binding, which message opens the stream, and where the one-time token travels
(``stream_token``; docs/carriers.md has the table). A first frame that fits several
carriers (Telnyx and Exotel both open with a bare ``connected``) is kept and parsed once
a later frame decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import WSMsgType

from omnivoice_rtc._errors import ProviderError, SignatureError, StreamRejected
from omnivoice_rtc.carriers.profile import TOKEN_PARAMETER
from omnivoice_rtc.carriers.registry import AnyProfile, detect_candidates
from omnivoice_rtc.carriers.stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore
from omnivoice_rtc.media_streams.messages import (
    Connected,
    InboundMessage,
    MediaStreamCodec,
    Start,
    load_json_object,
)
from omnivoice_rtc.shim.media_socket import MediaSocket
from omnivoice_rtc.shim.policy import (
    CLOSE_INVALID_DATA,
    CLOSE_POLICY,
    CallCounters,
    MediaPolicy,
)

__all__ = [
    "PENDING_CALL_PREFIX",
    "TOKEN_PARAMETER",
    "OpenedStream",
    "StreamRejected",
    "open_stream",
]

logger = logging.getLogger(__name__)

CLOSE_TRY_AGAIN: Final = 1013
PENDING_CALL_PREFIX: Final = "pending-"
"""Call id of a token issued by ``make_call`` before the carrier assigned the real id."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedStream:
    """A media stream whose token was redeemed: ``codec`` is bound to it."""

    carrier: str
    profile: AnyProfile
    codec: MediaStreamCodec
    opening: Start | Connected
    grant: StreamGrant
    start: Start | None
    """The ``start`` message (None for Vonage, whose stream opens with ``connected``)."""


async def _next_frame(ws: MediaSocket, deadline: float) -> str | bytes:
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


class _Opening:
    """The state of one handshake: the profile once known, frames kept until then, and
    the messages parsed before the opening one."""

    def __init__(
        self,
        *,
        profiles: Mapping[str, AnyProfile],
        headers: Mapping[str, str],
        counters: CallCounters,
        max_invalid: int,
    ) -> None:
        self.profiles = profiles
        self.headers = headers
        self.counters = counters
        self.max_invalid = max_invalid
        self.profile: AnyProfile | None = None
        self.codec: MediaStreamCodec | None = None
        self.undecided: list[str | bytes] = []
        self.earlier: list[InboundMessage] = []

    @property
    def carrier(self) -> str | None:
        return self.profile.name if self.profile is not None else None

    def invalid(self) -> None:
        """Count an unparseable frame; beyond the policy's allowance close with 1007."""
        self.counters.dropped_invalid += 1
        if self.counters.dropped_invalid > self.max_invalid:
            raise StreamRejected("too many invalid frames before start", code=CLOSE_INVALID_DATA)

    def choose(self, carrier: str, *, detected: bool) -> None:
        profile = self.profiles.get(carrier)
        if profile is None:
            raise StreamRejected(f"no gateway for carrier {carrier}", code=CLOSE_POLICY)
        if detected:  # a carrier's own path checked the upgrade before accepting it
            try:
                profile.verify_upgrade(self.headers)
            except SignatureError:
                raise StreamRejected("upgrade credentials refused", code=CLOSE_POLICY) from None
        self.profile = profile
        self.codec = profile.codec()

    def frames_to_parse(self, frame: str | bytes) -> list[str | bytes]:
        """The frames that can be parsed now (none while the carrier is undecided)."""
        if self.profile is not None:
            return [frame]
        try:
            load_json_object("detect", frame)
        except ValueError:  # not a JSON object at all (deep nesting, bad UTF-8, binary...)
            self.invalid()
            return []
        try:
            found = detect_candidates(frame)
        except ValueError:  # JSON, but no carrier's first frame
            self.counters.dropped_before_start += 1
            return []
        served = [name for name in found if name in self.profiles]
        if len(found) > 1 and len(served) != 1:
            self.undecided.append(frame)  # wait for a frame that decides
            return []
        self.choose(served[0] if served else found[0], detected=True)
        frames, self.undecided = [*self.undecided, frame], []
        return frames


async def open_stream(
    ws: MediaSocket,
    *,
    tokens: StreamTokenStore,
    policy: MediaPolicy,
    counters: CallCounters,
    profiles: Mapping[str, AnyProfile],
    carrier: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> OpenedStream:
    """Read frames until the one that carries the token; redeem it or close with 1008.

    ``profiles`` are the served carriers by name; ``carrier`` None means detect it from
    the first frames (the generic path; the detected carrier's ``verify_upgrade`` then
    checks ``headers``, the upgrade's). Frames before the opening one other than a
    ``connected`` are counted and dropped. Raises :class:`StreamRejected` after closing
    the socket.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + policy.start_timeout_s
    state = _Opening(
        profiles=profiles,
        headers=headers or {},
        counters=counters,
        max_invalid=policy.max_invalid_frames,
    )
    try:
        if carrier is not None:
            state.choose(carrier, detected=False)
        for _ in range(policy.max_frames_before_start + 1):
            frame = await _next_frame(ws, deadline)
            for pending in state.frames_to_parse(frame):
                opened = await _try_open(state, pending, tokens)
                if opened is not None:
                    return opened
        raise StreamRejected("too many frames before start", code=CLOSE_POLICY)
    except StreamRejected as exc:
        logger.info("media stream rejected", extra={"reason": exc.reason, "carrier": state.carrier})
        if not ws.closed:
            await ws.close(code=exc.code, message=exc.reason.encode()[:120])
        raise


async def _try_open(
    state: _Opening, frame: str | bytes, tokens: StreamTokenStore
) -> OpenedStream | None:
    """Parse ``frame``; for the opening message redeem its token and return the stream."""
    profile, codec = state.profile, state.codec
    assert profile is not None  # reason: frames_to_parse chose it
    assert codec is not None  # reason: chosen with the profile
    try:
        message = codec.parse(frame)
    except ValueError:
        state.invalid()
        return None
    if not profile.is_opening(message):
        if isinstance(message, Connected):
            state.earlier.append(message)
        else:
            state.counters.dropped_before_start += 1
        return None
    assert isinstance(message, Start | Connected)  # reason: opening messages are one of these
    token = profile.stream_token(message, state.headers, state.earlier)
    try:
        grant = await tokens.redeem(token, profile.name)
    except StreamTokenError as exc:
        raise StreamRejected(f"stream token {exc.reason}", code=CLOSE_POLICY) from None
    except ProviderError:  # shared state unreachable: try again later
        raise StreamRejected("stream tokens unavailable", code=CLOSE_TRY_AGAIN) from None
    pending = grant.call_id.startswith(PENDING_CALL_PREFIX)  # dialled by make_call
    if isinstance(message, Start) and not pending and message.call_id != grant.call_id:
        raise StreamRejected("stream token is for another call", code=CLOSE_POLICY)
    return OpenedStream(
        carrier=profile.name,
        profile=profile,
        codec=profile.bind(codec, message),
        opening=message,
        grant=grant,
        start=message if isinstance(message, Start) else None,
    )
