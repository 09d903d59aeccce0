"""PSTN gateways over carrier media streams: one :class:`MediaStreamGateway` per carrier.

A gateway answers its carrier's webhooks (signature checked first; 403 and nothing
created on failure), asks the ``on_call`` handler, answers with markup carrying a
one-time stream token, and runs a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` for
each media WebSocket that redeems a token. :class:`ShimRuntime` holds what all four
gateways share (LiveKit, agent name, token store, limits, public URL policy).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from aiohttp import web

from omnivoice_rtc._errors import CallRejectedError, SignatureError
from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.stream_tokens import StreamTokenStore
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio, room_rate_for
from omnivoice_rtc.shim.call_bridge import BridgeHooks, CallBridge
from omnivoice_rtc.shim.carriers import CarrierAdapter, WebhookRequest, form_fields
from omnivoice_rtc.shim.handshake import PENDING_CALL_PREFIX, OpenedStream
from omnivoice_rtc.shim.native_call_room import NativeCallRoom, NativeMediaOptions
from omnivoice_rtc.shim.policy import CallCounters, MediaPolicy
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.rtc_call_room import (
    CallRoom,
    CallRoomBase,
    CallRoomSpec,
    RoomAudioOptions,
    RoomCallbacks,
    call_participant_identity,
    call_room_name,
)
from omnivoice_rtc.types import CallHandler, CallInfo, ProviderName

__all__ = ["MediaStreamGateway", "ShimRuntime", "answer_path", "media_path"]

logger = logging.getLogger(__name__)

GENERIC_MEDIA_PATH: Final = "/carriers/media"
"""The one WebSocket path that detects the carrier from the first frames."""


def answer_path(carrier: str) -> str:
    return f"/carriers/{carrier}/answer"


def media_path(carrier: str) -> str:
    return f"/carriers/{carrier}/media"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShimRuntime:
    """Shared by every carrier gateway of one web server.

    ``public_base_url``: the https URL carriers reach us at (empty = the request's own
    scheme and host). ``trust_forwarded``: take scheme/host from ``X-Forwarded-Proto`` /
    ``X-Forwarded-Host`` (only behind a proxy you control).
    """

    livekit: LiveKitSettings
    agent_name: str
    tokens: StreamTokenStore = field(default_factory=StreamTokenStore)
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

    def base_url(self, request: web.Request) -> str:
        """Scheme://host of the public URL this request was made to (no trailing slash)."""
        if self.trust_forwarded:
            proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
            host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
            if proto and host:
                return f"{proto}://{host}"
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        return f"{request.scheme}://{request.host}"

    @staticmethod
    def ws_base(base_url: str) -> str:
        if base_url.startswith("https://"):
            return "wss://" + base_url[len("https://") :]
        if base_url.startswith("http://"):
            return "ws://" + base_url[len("http://") :]
        return base_url


class MediaStreamGateway:
    """The Go ``Gateway`` for one carrier's media streams (``name`` is the carrier)."""

    def __init__(
        self,
        *,
        adapter: CarrierAdapter,
        runtime: ShimRuntime,
        from_number: str = "",
        public_base_url: str = "",
    ) -> None:
        self.adapter = adapter
        self.runtime = runtime
        self.from_number = from_number
        """Caller id for :meth:`make_call`."""
        self._outbound_base = public_base_url or runtime.public_base_url
        self._handler: CallHandler | None = None
        self._sessions: dict[str, PstnSession] = {}
        self._pending: dict[str, PstnSession] = {}
        self._bridges: set[CallBridge] = set()
        self._started = False

    @property
    def name(self) -> ProviderName:
        return ProviderName(self.adapter.carrier)

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        """Start answering webhooks and streams (before: 503 / 1013)."""
        self._started = True

    async def stop(self) -> None:
        """End every call (carrier hang-up where configured) and close the REST client."""
        self._started = False
        await asyncio.gather(*(b.end("gateway_stopped") for b in list(self._bridges)))
        await self.adapter.aclose()

    def on_call(self, handler: CallHandler) -> None:
        """Called with each inbound call's CallInfo; raise CallRejectedError to reject."""
        self._handler = handler

    def get_session(self, call_id: str) -> PstnSession | None:
        return self._sessions.get(call_id)

    def list_sessions(self) -> list[PstnSession]:
        return list(self._sessions.values())

    async def make_call(self, to: str) -> PstnSession:
        """Dial ``to`` over the carrier's REST API; the answered call streams to us.

        Returns the session at once (its audio starts when the carrier opens the stream).
        Needs ``public_base_url`` (the carrier must reach us) and a REST client.
        """
        if not self._outbound_base:
            raise ValueError(f"{self.adapter.carrier}: make_call needs a public_base_url")
        pending_id = PENDING_CALL_PREFIX + secrets.token_hex(8)
        token = self.runtime.tokens.issue(
            pending_id,
            self.adapter.carrier,
            context={"from": self.from_number, "to": to, "direction": "outbound"},
        )
        base = self._outbound_base.rstrip("/")
        dialled = await self.adapter.dial(
            to=to,
            from_=self.from_number,
            ws_url=ShimRuntime.ws_base(base) + media_path(self.adapter.carrier),
            answer_url=f"{base}{answer_path(self.adapter.carrier)}?pending={pending_id}",
            token=token,
        )
        call = CallInfo(
            call_id=dialled.call_id,
            from_=self.from_number,
            to=to,
            direction="outbound",
            carrier=self.adapter.carrier,
        )
        session = PstnSession(call=call)
        self._pending[pending_id] = session
        self._sessions[call.call_id] = session
        return session

    # ------------------------------------------------------------------ webhook

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The answer webhook: verify, ask the handler, answer with markup or reject."""
        if not self._started:
            return web.Response(status=503, text="gateway not started")
        raw_body = await request.read()
        form: Mapping[str, str] = {}
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = form_fields(await request.post())
        base = self.runtime.base_url(request)
        hook = WebhookRequest(
            method=request.method,
            url=base + request.path_qs,
            headers=request.headers,
            query=list(request.query.items()),
            form=form,
            raw_body=raw_body,
        )
        try:
            call = self.adapter.verify(hook)
        except SignatureError as exc:
            logger.warning(
                "webhook signature rejected",
                extra={"carrier": self.adapter.carrier, "error": str(exc)},
            )
            return web.Response(status=403, text="invalid signature")
        except ValueError as exc:
            return web.Response(status=400, text=str(exc))
        if not self.adapter.is_new_call(call):
            return web.json_response({})  # a status report on a call: nothing to decide
        try:
            return await self._answer(call, request.query.get("pending", ""), base)
        except (ValueError, CarrierRestError) as exc:  # no REST client, or the REST call failed
            logger.error(
                "call could not be answered",
                extra={"carrier": self.adapter.carrier, "call_id": call.call_id, "error": str(exc)},
            )
            status = 502 if isinstance(exc, CarrierRestError) else 500
            return web.Response(status=status, text=str(exc))

    async def _answer(self, call: CallInfo, pending: str, base: str) -> web.Response:
        """Ask the handler (unless we dialled this call), then accept or reject it."""
        if pending in self._pending:  # answer of a call we dialled (Plivo): no handler
            token = self.runtime.tokens.issue(
                pending, self.adapter.carrier, context={"direction": "outbound"}
            )
        else:
            try:
                await self._ask_handler(call)
            except CallRejectedError as exc:
                logger.info("call rejected by handler", extra={"call_id": call.call_id})
                return await self.adapter.reject(call, exc.reason)
            token = self.runtime.tokens.issue(
                call.call_id,
                self.adapter.carrier,
                context={"from": call.from_, "to": call.to, "direction": call.direction},
            )
        ws_url = ShimRuntime.ws_base(base) + media_path(self.adapter.carrier)
        return await self.adapter.accept(call, ws_url=ws_url, token=token)

    async def _ask_handler(self, call: CallInfo) -> None:
        if self._handler is None:
            return
        result = self._handler(call)
        if inspect.isawaitable(result):
            await result

    # ------------------------------------------------------------------ stream

    def _session_for(self, opened: OpenedStream) -> PstnSession:
        grant = opened.grant
        start = opened.start
        if grant.call_id.startswith(PENDING_CALL_PREFIX):
            session = self._pending.pop(grant.call_id, None)
            if session is not None:
                real_id = start.call_id if isinstance(start, Start) else ""
                if real_id and real_id != session.id:  # Plivo's dial returned a request id
                    self._sessions.pop(session.id, None)
                    session._rebind(real_id)
                    self._sessions[real_id] = session
                return session
        call_id = start.call_id if isinstance(start, Start) else grant.call_id
        ctx = grant.context
        direction = ctx.get("direction", "inbound")
        call = CallInfo(
            call_id=call_id,
            from_=ctx.get("from", ""),
            to=ctx.get("to", ""),
            direction=direction if direction in ("inbound", "outbound") else "inbound",
            start_time=datetime.now(UTC),
            carrier=opened.carrier,
        )
        session = PstnSession(call=call)
        self._sessions[call.call_id] = session
        return session

    def _call_room(self, spec: CallRoomSpec, callbacks: RoomCallbacks) -> CallRoomBase:
        """The call's room, joined by the native media process or by livekit rtc here."""
        if self.runtime.native_media is not None:
            return NativeCallRoom(spec=spec, native=self.runtime.native_media, callbacks=callbacks)
        return CallRoom(spec=spec, callbacks=callbacks)

    async def run_stream(
        self, ws: web.WebSocketResponse, opened: OpenedStream, counters: CallCounters
    ) -> None:
        """Bridge an authenticated media stream into a room until the call ends."""
        session = self._session_for(opened)
        call = session.call
        in_format = opened.start.media_format if opened.start else opened.codec.output_format
        out_format = opened.codec.output_format
        callbacks = RoomCallbacks()
        rt = self.runtime
        spec = CallRoomSpec(
            livekit=rt.livekit,
            room_name=call_room_name(opened.carrier, call.call_id),
            identity=call_participant_identity(opened.carrier, call.call_id),
            attributes={
                "carrier": opened.carrier,
                "call_id": call.call_id,
                "from": call.from_,
                "to": call.to,
                "direction": call.direction,
            },
            agent_name=rt.agent_name,
            audio=RoomAudioOptions(
                publish_rate_hz=room_rate_for(in_format),
                subscribe_rate_hz=room_rate_for(out_format),
                source_queue_ms=rt.source_queue_ms,
            ),
            participant_kind=rt.participant_kind,
            agent_join_timeout_s=rt.agent_join_timeout_s,
        )
        room = self._call_room(spec, callbacks)
        bridge = CallBridge(
            ws=ws,
            codec=opened.codec,
            call=call,
            inbound=InboundAudio(carrier_format=in_format, room_rate_hz=room_rate_for(in_format)),
            outbound=OutboundAudio(
                carrier_format=out_format, room_rate_hz=room_rate_for(out_format)
            ),
            room=room,
            policy=self.runtime.policy,
            hooks=BridgeHooks(
                on_event=session.on_event,
                hangup=self._hangup_for(call.call_id),
                on_closed=session.on_closed,
            ),
            counters=counters,
        )
        bridge.wire(callbacks)
        session.attach(bridge)
        self._bridges.add(bridge)
        try:
            await bridge.run()
        finally:
            self._bridges.discard(bridge)
            with contextlib.suppress(KeyError):
                del self._sessions[call.call_id]

    def _hangup_for(self, call_id: str) -> Callable[[], Awaitable[None]] | None:
        if getattr(self.adapter, "rest", None) is None:
            return None

        async def hangup() -> None:
            await self.adapter.hangup(call_id)

        return hangup
