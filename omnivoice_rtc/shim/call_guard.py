"""CallGuard: what the carrier gateways check, in shared state, before they answer a
webhook or bridge a media stream.

* **Webhooks**: at most ``OMNIVOICE_WEBHOOKS_PER_MIN_PER_ADDRESS`` per client address
  (before the signature is even checked) and ``OMNIVOICE_WEBHOOKS_PER_MIN_PER_ACCOUNT`` per
  carrier account (after it): 429 with Retry-After beyond. A signed request's replay keys
  (Plivo nonce, Vonage ``jti``, Telnyx signature) are recorded once: a second request with
  one is refused (:class:`~omnivoice_rtc.ReplayError`). An answered call id is recorded
  for the call's life and ``OMNIVOICE_ANSWERED_CALL_WINDOW_S`` after it: a second webhook
  offering it gets no stream token. Records of a request whose answer was a server error
  are taken back, so the carrier's retry is answered.
* **Streams**: media WebSockets hold a slot of ``OMNIVOICE_MAX_MEDIA_SOCKETS`` and of
  ``OMNIVOICE_MAX_MEDIA_SOCKETS_PER_ADDRESS``; bridged calls a slot of ``OMNIVOICE_MAX_CALLS``
  and ``OMNIVOICE_MAX_CALLS_PER_ADDRESS`` (close 1013 beyond) and the call's claim in the
  :class:`~omnivoice_rtc.state.LiveCallRegistry` (a second stream for a live call: close
  1008, the live call untouched).
* **Outbound**: :attr:`CallGuard.outbound` admits ``make_call`` (allow-list, rate,
  concurrency: :mod:`omnivoice_rtc.limits.outbound`).

Slots and claims are refreshed by one :class:`~omnivoice_rtc.state.lease_keeper.LeaseKeeper`
while held; :meth:`CallGuard.aclose` stops it (the web app's shutdown does).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from omnivoice_rtc._errors import ProviderError, ReplayError, RequestError
from omnivoice_rtc.carriers.profile import ReplayKeys
from omnivoice_rtc.carriers.stream_tokens import StreamTokenStore
from omnivoice_rtc.limits.client_address import address_key, client_address
from omnivoice_rtc.limits.outbound import OutboundGuard
from omnivoice_rtc.settings.limits import LimitSettings
from omnivoice_rtc.state.call_registry import LiveCallRegistry
from omnivoice_rtc.state.lease_keeper import LeaseKeeper
from omnivoice_rtc.state.memory import MemoryStateStore
from omnivoice_rtc.state.store import StateStore

__all__ = ["CallGuard", "CallLease", "Refused", "SocketLease"]

logger = logging.getLogger(__name__)

_MINUTE_S: Final = 60.0
SLOT_TTL_S: Final = 60.0
"""A socket/call slot outlives its last refresh by this much (s); refreshed every third."""
_ANSWERED: Final = "1"


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a stream was refused: WebSocket close ``code`` and ``reason``."""

    code: int
    reason: str


@dataclass(slots=True)
class SocketLease:
    """One media WebSocket's slots; :meth:`release` when the socket closes."""

    guard: CallGuard
    keys: tuple[str, ...]
    holder: str
    released: bool = False

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await self.guard._release_slots(self.keys, self.holder)


@dataclass(slots=True)
class CallLease:
    """One bridged call's slots and live-call claim; :meth:`release` when it ends."""

    guard: CallGuard
    carrier: str
    call_id: str
    keys: tuple[str, ...]
    owner: str
    released: bool = False

    async def release(self) -> None:
        """Give the slots back, end the claim, start the answered call id's window."""
        if not self.released:
            self.released = True
            await self.guard._end_call(self)


class CallGuard:
    """Shared by every gateway of one web server (``ShimRuntime.guard``); see the module
    docstring. ``state`` defaults to a bounded memory store, ``limits`` to the defaults
    of :mod:`omnivoice_rtc.settings.limits`."""

    def __init__(
        self,
        *,
        state: StateStore | None = None,
        limits: LimitSettings | None = None,
        replica_id: str = "",
    ) -> None:
        self.state: StateStore = state if state is not None else MemoryStateStore()
        self.limits = limits or LimitSettings()
        setup = self.limits.call_setup
        self.tokens = StreamTokenStore(
            store=self.state,
            ttl_s=setup.stream_token_ttl_s,
            max_tokens=setup.max_pending_streams,
            max_pending_per_source=setup.max_pending_streams_per_source,
        )
        self.registry = LiveCallRegistry(store=self.state, replica_id=replica_id)
        self.outbound = OutboundGuard(limits=self.limits.outbound, store=self.state)
        self._keeper = LeaseKeeper(interval_s=SLOT_TTL_S / 3)

    def __repr__(self) -> str:
        return f"CallGuard(state={self.state!r}, replica={self.registry.replica_id!r})"

    # ------------------------------------------------------------------ addresses

    def client_of(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The client address of a request (trusted proxies only: ``OMNIVOICE_TRUSTED_PROXIES``)."""
        return client_address(peer, headers, self.limits.ingress.trusted_proxies)

    # ------------------------------------------------------------------ webhooks

    async def _rate(self, key: str, limit: int, what: str) -> None:
        wait_s = await self.state.hit(key, limit=limit, window_s=_MINUTE_S)
        if wait_s > 0:
            raise RequestError(
                f"too many webhooks: at most {limit} per minute {what}",
                status=429,
                retry_after_s=wait_s,
            )

    async def admit_webhook(self, address: str) -> None:
        """Count a webhook from ``address``; RequestError(429) beyond the per-address rate."""
        limit = self.limits.ingress.webhooks_per_min_per_address
        await self._rate(f"webhooks:addr:{address_key(address)}", limit, "per address")

    async def admit_account(self, carrier: str, account: str) -> None:
        """Count a verified webhook of ``carrier``'s ``account``; RequestError(429) beyond."""
        limit = self.limits.ingress.webhooks_per_min_per_account
        await self._rate(f"webhooks:acct:{carrier}:{account or '*'}", limit, "per account")

    async def claim_replay_keys(self, keys: ReplayKeys) -> list[str]:
        """Record each key; ReplayError (after taking back the ones recorded now) when one
        was seen before. Returns the recorded keys (for :meth:`forget`)."""
        claimed: list[str] = []
        for key, ttl_s in keys:
            ttl = ttl_s if ttl_s is not None else self.limits.call_setup.replay_cache_s
            if not await self.state.put_if_absent(f"replay:{key}", _ANSWERED, ttl_s=ttl):
                await self.forget(claimed)
                raise ReplayError("webhook replayed: this signed request was seen before", what=key)
            claimed.append(f"replay:{key}")
        return claimed

    async def claim_answer(self, carrier: str, call_id: str) -> str | None:
        """Record ``call_id`` as answered; its record key, or None when it already was."""
        setup = self.limits.call_setup
        key = f"answered:{carrier}:{call_id}"
        ttl = setup.max_call_s + setup.answered_call_window_s
        return key if await self.state.put_if_absent(key, _ANSWERED, ttl_s=ttl) else None

    async def forget(self, keys: Sequence[str]) -> None:
        """Take back records made for a request that was not answered after all."""
        for key in keys:
            await self.state.delete_if(key, _ANSWERED)

    # ------------------------------------------------------------------ slots

    async def _acquire(self, keys_limits: Sequence[tuple[str, int]], holder: str) -> str | None:
        """Every slot, or none: the first key that is full (its slots released)."""
        taken: list[str] = []
        for key, limit in keys_limits:
            if not await self.state.acquire_slot(key, holder, limit=limit, ttl_s=SLOT_TTL_S):
                await self._release_slots(taken, holder)
                return key
            taken.append(key)
        state = self.state

        async def refresh() -> bool:
            kept = [await state.refresh_slot(k, holder, ttl_s=SLOT_TTL_S) for k in taken]
            return all(kept)

        self._keeper.keep(holder, refresh)
        return None

    async def _release_slots(self, keys: Sequence[str], holder: str) -> None:
        self._keeper.drop(holder)
        try:
            for key in keys:
                await self.state.release_slot(key, holder)
        except ProviderError as exc:  # store unreachable: the slots expire with their TTL
            logger.warning("slot release failed", extra={"holder": holder, "error": str(exc)})

    async def open_socket(self, address: str) -> SocketLease | Refused:
        """Slots for one media WebSocket from ``address`` (1013 when full)."""
        ingress = self.limits.ingress
        holder = "ws-" + secrets.token_hex(8)
        keys = (
            ("sockets", ingress.max_media_sockets),
            (f"sockets:{address_key(address)}", ingress.max_media_sockets_per_address),
        )
        full = await self._acquire(keys, holder)
        if full is not None:
            what = "per address" if ":" in full else "in all"
            logger.warning("media socket refused: cap reached", extra={"cap": full})
            return Refused(1013, f"too many media streams {what}; try again later")
        return SocketLease(guard=self, keys=tuple(k for k, _ in keys), holder=holder)

    async def start_call(self, carrier: str, call_id: str, address: str) -> CallLease | Refused:
        """The call's claim and slots before it is bridged: 1008 when the call already
        has a live stream (the live call is untouched), 1013 when a cap is reached."""
        owner = self.registry.owner_token(secrets.token_hex(6))
        if not await self.registry.claim(carrier, call_id, owner):
            logger.warning(
                "media stream refused: the call already has a live stream",
                extra={"carrier": carrier, "call_id": call_id},
            )
            return Refused(1008, "the call already has a live stream")
        ingress = self.limits.ingress
        keys = (
            ("calls", ingress.max_calls),
            (f"calls:{address_key(address)}", ingress.max_calls_per_address),
        )
        full = await self._acquire(keys, owner)
        if full is not None:
            await self.registry.release(carrier, call_id, owner)
            logger.warning("call refused: cap reached", extra={"cap": full, "call_id": call_id})
            return Refused(1013, "too many calls; try again later")
        registry = self.registry

        async def refresh_claim() -> bool:
            return await registry.refresh(carrier, call_id, owner)

        self._keeper.keep(f"{owner}/claim", refresh_claim)
        return CallLease(
            guard=self,
            carrier=carrier,
            call_id=call_id,
            keys=tuple(k for k, _ in keys),
            owner=owner,
        )

    async def _end_call(self, lease: CallLease) -> None:
        self._keeper.drop(f"{lease.owner}/claim")
        await self._release_slots(lease.keys, lease.owner)
        window = self.limits.call_setup.answered_call_window_s
        key = f"answered:{lease.carrier}:{lease.call_id}"
        try:
            await self.registry.release(lease.carrier, lease.call_id, lease.owner)
            await self.state.expire_if(key, _ANSWERED, ttl_s=window)
        except ProviderError as exc:  # store unreachable: the claim and record expire
            logger.warning(
                "call release failed", extra={"call_id": lease.call_id, "error": str(exc)}
            )

    async def aclose(self) -> None:
        """Stop refreshing slots and claims, and the outbound guard's (app shutdown)."""
        await self._keeper.aclose()
        await self.outbound.aclose()
