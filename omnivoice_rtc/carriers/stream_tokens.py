"""One-time stream tokens: bind a media WebSocket to the webhook that answered the call.

The answer webhook (signed by the carrier) issues a token and puts it where the carrier's
profile says (Twilio/Telnyx ``<Parameter name="token">``, Vonage NCCO ``headers``, Plivo
``extraHeaders``, Exotel the stream URL's query). The media WebSocket must present it in its first frames; the shim
redeems it before anything joins a room. Tokens are random, bound to a call id and a
carrier, expire after ``ttl_s`` seconds and can be redeemed once. The store is in
memory and bounded: when full, expired tokens go first, then the oldest.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from omnivoice_rtc._errors import StreamTokenError
from omnivoice_rtc.carriers.registry import carrier_names

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TTL_S",
    "StreamGrant",
    "StreamTokenError",
    "StreamTokenStore",
]

DEFAULT_TTL_S: Final = 60.0
"""Seconds between the answer webhook and the WebSocket's first frames."""
DEFAULT_MAX_TOKENS: Final = 10_000
TOKEN_HEX_CHARS: Final = 32
"""Tokens are 128 random bits as lowercase hex: alphanumeric, as Plivo extraHeaders demand."""


def _empty() -> dict[str, str]:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamGrant:
    """What a redeemed token stands for. ``context`` holds extra call facts the webhook
    knew (from, to, direction…); ``issued_at`` is in the store's clock (seconds)."""

    call_id: str
    carrier: str
    issued_at: float
    context: Mapping[str, str] = field(default_factory=_empty)


@dataclass(slots=True)
class _Entry:
    grant: StreamGrant
    expires_at: float
    used: bool = False


class StreamTokenStore:
    """In-memory, bounded, single-use token store. Not thread-safe (one event loop).

    ``ttl_s``: token lifetime in seconds; ``max_tokens``: capacity; ``clock``: monotonic
    seconds (injectable for tests).
    """

    __slots__ = ("_clock", "_entries", "_max", "_ttl")

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"StreamTokenStore.ttl_s: must be > 0 seconds, got {ttl_s!r}")
        if max_tokens < 1:
            raise ValueError(f"StreamTokenStore.max_tokens: must be >= 1, got {max_tokens!r}")
        self._ttl = ttl_s
        self._max = max_tokens
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def issue(self, call_id: str, carrier: str, *, context: Mapping[str, str] | None = None) -> str:
        """Create a token for ``call_id`` on ``carrier`` (a registered carrier name) and
        return it (32 hex chars)."""
        if not call_id:
            raise ValueError("stream token: call_id must not be empty")
        if carrier not in carrier_names():
            raise ValueError(f"stream token: unknown carrier {carrier!r}")
        now = self._clock()
        self._evict(now)
        token = secrets.token_hex(TOKEN_HEX_CHARS // 2)
        grant = StreamGrant(
            call_id=call_id, carrier=carrier, issued_at=now, context=dict(context or {})
        )
        self._entries[token] = _Entry(grant=grant, expires_at=now + self._ttl)
        return token

    def redeem(self, token: str | None, carrier: str) -> StreamGrant:
        """Consume ``token`` for a stream of ``carrier``; raise StreamTokenError otherwise.

        A token presented for the wrong carrier is burnt too: it was leaked or forged.
        """
        if not token:
            raise StreamTokenError("stream token: missing", reason="missing")
        entry = self._entries.get(token)
        if entry is None:
            raise StreamTokenError("stream token: unknown", reason="unknown")
        if entry.used:
            raise StreamTokenError("stream token: already used", reason="used")
        entry.used = True
        if self._clock() >= entry.expires_at:
            del self._entries[token]
            raise StreamTokenError("stream token: expired", reason="expired")
        if entry.grant.carrier != carrier:
            raise StreamTokenError(
                f"stream token: issued for {entry.grant.carrier}, presented by {carrier}",
                reason="wrong_carrier",
            )
        return entry.grant

    def _evict(self, now: float) -> None:
        # Insertion order is expiry order (one TTL), so expired tokens are at the front.
        # Used tokens stay (marked) until they expire so a replay reports "already used".
        while self._entries and now >= next(iter(self._entries.values())).expires_at:
            self._entries.popitem(last=False)
        while len(self._entries) >= self._max:
            self._entries.popitem(last=False)
