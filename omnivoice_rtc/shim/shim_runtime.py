"""ShimRuntime: what every carrier gateway of one web server shares.

LiveKit, the agent to dispatch, the :class:`~.call_guard.CallGuard` (shared state, stream
tokens and every limit), the bad-input policy, the public URL policy
(:mod:`omnivoice_rtc._urls`) and how call rooms are joined (livekit rtc in this process,
the ``omnivoice-media`` process, or a test's room factory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from omnivoice_rtc._urls import public_base_url
from omnivoice_rtc.carriers.stream_tokens import StreamTokenStore
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.settings import CallSettings, LiveKitSettings
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.native_call_room import NativeCallRoom, NativeMediaOptions
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.shim.rtc_call_room import CallRoom, CallRoomBase, CallRoomSpec, RoomCallbacks

__all__ = ["RoomFactory", "ShimRuntime"]


RoomFactory = Callable[[CallRoomSpec, RoomCallbacks], CallRoomBase]
"""Builds the (not yet started) room of one call: ``(spec, callbacks) -> room``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ShimRuntime:
    """Shared by every carrier gateway of one web server.

    ``public_base_url``: the https URL carriers reach us at; when set it always wins.
    ``trust_forwarded``: without a public URL, take scheme/host from ``X-Forwarded-Proto`` /
    ``X-Forwarded-Host`` (only behind a proxy you control); otherwise the request's own
    scheme and host are used (:mod:`omnivoice_rtc._urls`). ``guard``: the shared state
    and every limit (:class:`~.call_guard.CallGuard`; its ``tokens`` are the stream tokens).
    """

    livekit: LiveKitSettings
    agent_name: str
    guard: CallGuard = field(default_factory=CallGuard)
    policy: MediaPolicy = field(default_factory=MediaPolicy)
    public_base_url: str = ""
    trust_forwarded: bool = False
    participant_kind: Literal["sip", "standard"] = "sip"
    agent_join_timeout_s: float = 20.0
    source_queue_ms: int = 0
    """livekit AudioSource queue for caller audio (ms); 0 = direct capture of 10 ms frames
    (see :class:`~omnivoice_rtc.shim.rtc_call_room.RoomAudioOptions`)."""
    native_media: NativeMediaOptions | None = None
    """Join call rooms through the ``omnivoice-media`` process instead of livekit rtc in this
    process (:class:`~omnivoice_rtc.shim.native_call_room.NativeCallRoom`); None = livekit rtc."""
    room_factory: RoomFactory | None = None
    """Builds each call's room (tests: an in-memory room); None = ``native_media`` decides."""
    ledger: LedgerService | None = None
    """Where each call's start, end and counters are recorded (the web app's ledger)."""
    liveness: CallSettings = field(default_factory=CallSettings)
    """Media timeout, WebSocket heartbeat, agent pings and tries, teardown bound."""

    @property
    def tokens(self) -> StreamTokenStore:
        """The one-time stream tokens (``guard.tokens``)."""
        return self.guard.tokens

    def base_url(self, request: web.Request) -> str:
        """Scheme://host[/prefix] of the public URL this request was made to (no trailing
        slash): the configured public URL, else trusted forwarded headers, else the
        request's own (:func:`omnivoice_rtc._urls.public_base_url`)."""
        return public_base_url(
            scheme=request.scheme,
            host=request.host,
            headers=request.headers,
            public_url=self.public_base_url,
            trust_forwarded=self.trust_forwarded,
        )

    def new_room(self, spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        """The call's room: from ``room_factory``, else joined by the native media process
        or by livekit rtc in this process."""
        if self.room_factory is not None:
            return self.room_factory(spec, callbacks)
        if self.native_media is not None:
            return NativeCallRoom(spec=spec, native=self.native_media, callbacks=callbacks)
        return CallRoom(spec=spec, callbacks=callbacks)
