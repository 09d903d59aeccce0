"""One-time stream tokens: bind a media WebSocket to the webhook that answered the call.

The answer webhook (signed by the carrier) issues a token and puts it where the carrier's
profile says (Twilio/Telnyx ``<Parameter name="token">``, Vonage NCCO ``headers``, Plivo
``extraHeaders``, Exotel the stream URL's query). The media WebSocket must present it in
its first frames; the shim redeems it before anything joins a room. Tokens are random
(128 bits), bound to a call id and a carrier, expire after ``ttl_s`` seconds and can be
redeemed once: redeeming is one atomic take from the shared
:class:`~omnivoice_rtc.state.StateStore`, so with Redis any replica may redeem a token
another replica issued, and of two streams presenting it exactly one wins.

The store cannot be flooded out: a pending token holds one of ``max_pending`` slots and
one of ``max_pending_per_source`` slots of its source (the carrier account or client
address that asked for it); when either is full, :meth:`StreamTokenStore.issue` raises
:class:`~omnivoice_rtc.LimitError` and every pending token stays redeemable (nothing is
evicted). Slots are given back on redeem and expire with the token.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from omnivoice_rtc._errors import LimitError, StreamTokenError
from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.state.memory import MemoryStateStore
from omnivoice_rtc.state.store import StateStore

__all__ = [
    "DEFAULT_MAX_PENDING_PER_SOURCE",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_TTL_S",
    "StreamGrant",
    "StreamTokenError",
    "StreamTokenStore",
]

DEFAULT_TTL_S: Final = 60.0
"""Seconds between the answer webhook and the WebSocket's first frames."""
DEFAULT_MAX_TOKENS: Final = 10_000
"""Tokens pending at once, all sources."""
DEFAULT_MAX_PENDING_PER_SOURCE: Final = 500
"""Tokens pending at once for one source."""
TOKEN_HEX_CHARS: Final = 32
"""Tokens are 128 random bits as lowercase hex: alphanumeric, as Plivo extraHeaders demand."""
_EXPIRED_KEPT_S: Final = 60.0
"""An expired token is still recognised (and reported ``expired``) this long (s)."""
_PENDING_KEY: Final = "tokens:pending"


def _empty() -> dict[str, str]:
    return {}


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamGrant:
    """What a redeemed token stands for. ``context`` holds extra call facts the webhook
    knew (from, to, direction…); ``issued_at`` is in the token store's clock (seconds);
    ``source`` is who asked for it (carrier account or client address)."""

    call_id: str
    carrier: str
    issued_at: float
    context: Mapping[str, str] = field(default_factory=_empty)
    source: str = ""


def _encode(grant: StreamGrant, expires_at: float) -> str:
    return json.dumps(
        {
            "call_id": grant.call_id,
            "carrier": grant.carrier,
            "issued_at": grant.issued_at,
            "expires_at": expires_at,
            "context": dict(grant.context),
            "source": grant.source,
        },
        separators=(",", ":"),
    )


def _decode(raw: str) -> tuple[StreamGrant, float]:
    data = json.loads(raw)
    grant = StreamGrant(
        call_id=str(data["call_id"]),
        carrier=str(data["carrier"]),
        issued_at=float(data["issued_at"]),
        context={str(k): str(v) for k, v in dict(data.get("context", {})).items()},
        source=str(data.get("source", "")),
    )
    return grant, float(data["expires_at"])


class StreamTokenStore:
    """Single-use stream tokens in a :class:`~omnivoice_rtc.state.StateStore` (default: a
    bounded in-memory one). ``ttl_s``: token lifetime in seconds; ``max_tokens``: pending
    tokens at once; ``max_pending_per_source``: pending tokens of one source; ``clock``:
    seconds (wall clock by default, shared by replicas; injectable for tests)."""

    __slots__ = ("_clock", "_max", "_per_source", "_store", "_ttl")

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_pending_per_source: int = DEFAULT_MAX_PENDING_PER_SOURCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError(f"StreamTokenStore.ttl_s: must be > 0 seconds, got {ttl_s!r}")
        if max_tokens < 1:
            raise ValueError(f"StreamTokenStore.max_tokens: must be >= 1, got {max_tokens!r}")
        if max_pending_per_source < 1:
            raise ValueError(
                "StreamTokenStore.max_pending_per_source: must be >= 1, got "
                f"{max_pending_per_source!r}"
            )
        self._store: StateStore = store if store is not None else MemoryStateStore()
        self._ttl = ttl_s
        self._max = max_tokens
        self._per_source = max_pending_per_source
        self._clock = clock

    @property
    def ttl_s(self) -> float:
        return self._ttl

    async def pending(self) -> int:
        """Tokens issued and neither redeemed nor expired (every replica's, with Redis)."""
        return await self._store.count_slots(_PENDING_KEY)

    async def issue(
        self,
        call_id: str,
        carrier: str,
        *,
        context: Mapping[str, str] | None = None,
        source: str = "",
    ) -> str:
        """Create a token for ``call_id`` on ``carrier`` (a registered carrier name) and
        return it (32 hex chars). ``source`` names who asked (quota key). Raises LimitError
        when the store is full, for everyone or for ``source``."""
        if not call_id:
            raise ValueError("stream token: call_id must not be empty")
        if carrier not in carrier_names():
            raise ValueError(f"stream token: unknown carrier {carrier!r}")
        token = secrets.token_hex(TOKEN_HEX_CHARS // 2)
        source_key = f"tokens:source:{source or '-'}"
        store = self._store
        if not await store.acquire_slot(source_key, token, limit=self._per_source, ttl_s=self._ttl):
            raise LimitError(
                f"stream tokens: {self._per_source} pending for this source "
                "(OMNIVOICE_MAX_PENDING_STREAMS_PER_SOURCE)",
                limit="pending_streams_per_source",
                retry_after_s=self._ttl,
            )
        if not await store.acquire_slot(_PENDING_KEY, token, limit=self._max, ttl_s=self._ttl):
            await store.release_slot(source_key, token)
            raise LimitError(
                f"stream tokens: {self._max} pending (OMNIVOICE_MAX_PENDING_STREAMS)",
                limit="pending_streams",
                retry_after_s=self._ttl,
            )
        now = self._clock()
        grant = StreamGrant(
            call_id=call_id,
            carrier=carrier,
            issued_at=now,
            context=dict(context or {}),
            source=source,
        )
        try:
            await store.put_if_absent(
                f"token:{token}", _encode(grant, now + self._ttl), ttl_s=self._ttl + _EXPIRED_KEPT_S
            )
        except LimitError:
            await self._release(token, source)
            raise
        return token

    async def _release(self, token: str, source: str) -> None:
        await self._store.release_slot(_PENDING_KEY, token)
        await self._store.release_slot(f"tokens:source:{source or '-'}", token)

    async def redeem(self, token: str | None, carrier: str) -> StreamGrant:
        """Consume ``token`` for a stream of ``carrier``; raise StreamTokenError otherwise.

        A token presented for the wrong carrier is burnt too: it was leaked or forged.
        """
        if not token:
            raise StreamTokenError("stream token: missing", reason="missing")
        if len(token) != TOKEN_HEX_CHARS or not token.isalnum():
            raise StreamTokenError("stream token: unknown", reason="unknown")
        raw = await self._store.take(f"token:{token}")
        if raw is None:
            used = await self._store.get(f"token-used:{token}")
            reason = "used" if used is not None else "unknown"
            raise StreamTokenError(
                f"stream token: {'already used' if used else reason}", reason=reason
            )
        grant, expires_at = _decode(raw)
        await self._release(token, grant.source)
        if self._clock() >= expires_at:
            raise StreamTokenError("stream token: expired", reason="expired")
        with contextlib.suppress(LimitError):  # only for the "used" reason of a later try
            await self._store.put_if_absent(f"token-used:{token}", carrier, ttl_s=self._ttl)
        if grant.carrier != carrier:
            raise StreamTokenError(
                f"stream token: issued for {grant.carrier}, presented by {carrier}",
                reason="wrong_carrier",
            )
        return grant
