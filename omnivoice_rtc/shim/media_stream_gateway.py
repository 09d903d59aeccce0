"""PSTN gateways over carrier media streams: one :class:`MediaStreamGateway` per carrier.

A gateway answers its carrier's webhooks (signature checked first; 403 and nothing
created on failure), asks the ``on_call`` handler, answers with markup carrying a
one-time stream token, and runs a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` for
each media WebSocket that redeems a token. Everything carrier-specific is the gateway's
:class:`~omnivoice_rtc.carriers.profile.CarrierProfile`. :class:`ShimRuntime` holds what
every gateway shares (LiveKit, agent name, token store, limits, public URL policy, how
call rooms are joined).

Webhook answers: 403 bad signature/credentials, 400 unparseable call, 503 gateway not
started or a carrier setting missing (the message names the variable; nothing created),
502 the carrier's REST API failed, 200 otherwise.
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
from typing import Any, Final, Literal, cast

from aiohttp import web
from multidict import MultiDictProxy

from omnivoice_rtc._errors import CallRejectedError, ConfigError, SignatureError
from omnivoice_rtc._urls import public_base_url, ws_url_of
from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.profile import (
    TOKEN_PARAMETER,
    CarrierSettings,
    DialRequest,
    WebhookAnswer,
    WebhookRequest,
)
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.carriers.stream_tokens import StreamTokenStore
from omnivoice_rtc.livekit.names import CALL_PARAMETER_ATTRIBUTE_PREFIX
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio, room_rate_for
from omnivoice_rtc.shim.call_bridge import BridgeHooks, CallBridge
from omnivoice_rtc.shim.handshake import PENDING_CALL_PREFIX, OpenedStream
from omnivoice_rtc.shim.media_socket import MediaSocket
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

__all__ = [
    "MediaStreamGateway",
    "RoomFactory",
    "ShimRuntime",
    "answer_path",
    "call_parameter_attributes",
    "form_fields",
    "media_path",
]

logger = logging.getLogger(__name__)

GENERIC_MEDIA_PATH: Final = "/carriers/media"
"""The one WebSocket path that detects the carrier from the first frames."""


def answer_path(carrier: str) -> str:
    return f"/carriers/{carrier}/answer"


def media_path(carrier: str) -> str:
    return f"/carriers/{carrier}/media"


RoomFactory = Callable[[CallRoomSpec, RoomCallbacks], CallRoomBase]
"""Builds the (not yet started) room of one call: ``(spec, callbacks) -> room``."""


def call_parameter_attributes(parameters: Mapping[str, str]) -> dict[str, str]:
    """The stream's custom parameters (Twilio/Telnyx ``<Parameter>``, Vonage headers, Plivo
    extraHeaders) as the caller's participant attributes, each under
    ``omnivoice.param.`` (the agent's ``CallContext.parameters``); the stream token is
    left out."""
    return {
        CALL_PARAMETER_ATTRIBUTE_PREFIX + name: value
        for name, value in parameters.items()
        if name and name != TOKEN_PARAMETER
    }


def form_fields(post: MultiDictProxy[str | Any]) -> dict[str, str]:
    """POST form fields as a plain dict of strings (files are ignored)."""
    return {k: v for k, v in post.items() if isinstance(v, str)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ShimRuntime:
    """Shared by every carrier gateway of one web server.

    ``public_base_url``: the https URL carriers reach us at; when set it always wins.
    ``trust_forwarded``: without a public URL, take scheme/host from ``X-Forwarded-Proto`` /
    ``X-Forwarded-Host`` (only behind a proxy you control); otherwise the request's own
    scheme and host are used (:mod:`omnivoice_rtc._urls`).
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
    room_factory: RoomFactory | None = None
    """Builds each call's room (tests: an in-memory room); None = ``native_media`` decides."""

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


class MediaStreamGateway:
    """The Go ``Gateway`` for one carrier's media streams (``name`` is the carrier).

    ``public_base_url`` overrides the runtime's for :meth:`make_call` (the URL the carrier
    reaches us at)."""

    def __init__(
        self,
        *,
        profile: AnyProfile,
        runtime: ShimRuntime,
        public_base_url: str = "",
    ) -> None:
        self.profile = profile
        self.runtime = runtime
        self._outbound_base = public_base_url or runtime.public_base_url
        self._handler: CallHandler | None = None
        self._sessions: dict[str, PstnSession] = {}
        self._pending: dict[str, PstnSession] = {}
        self._bridges: set[CallBridge] = set()
        self._started = False

    @property
    def name(self) -> ProviderName:
        return ProviderName(self.profile.name)

    @property
    def carrier(self) -> str:
        return self.profile.name

    @property
    def from_number(self) -> str:
        """Caller id for :meth:`make_call` (the carrier's ``*_FROM_NUMBER`` setting)."""
        settings: CarrierSettings = self.profile.settings
        return settings.from_number

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
        await self.profile.aclose()

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
        Needs a public URL (the carrier must reach us) and the carrier's REST credentials:
        ConfigError names the missing variable, before anything is created.
        """
        carrier = self.carrier
        if not self._outbound_base:
            raise ConfigError(f"OMNIVOICE_PUBLIC_URL: {carrier} make_call needs a public URL")
        self.profile.require_rest("make_call")
        pending_id = PENDING_CALL_PREFIX + secrets.token_hex(8)
        token = self.runtime.tokens.issue(
            pending_id,
            carrier,
            context={"from": self.from_number, "to": to, "direction": "outbound"},
        )
        base = self._outbound_base.rstrip("/")
        dialled = await self.profile.dial(
            DialRequest(
                to=to,
                from_=self.from_number,
                ws_url=ws_url_of(base) + media_path(carrier),
                answer_url=f"{base}{answer_path(carrier)}?pending={pending_id}",
                token=token,
            )
        )
        call = CallInfo(
            call_id=dialled.call_id,
            from_=self.from_number,
            to=to,
            direction="outbound",
            carrier=carrier,
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
        answer = await self.answer_webhook(hook, base_url=base)
        return web.Response(
            status=answer.status, text=answer.body, content_type=answer.content_type
        )

    async def answer_webhook(self, hook: WebhookRequest, *, base_url: str) -> WebhookAnswer:
        """Answer one verified-or-not webhook (no aiohttp): ``base_url`` is the public
        ``scheme://host`` the carrier used; ``?pending=`` in ``hook.query`` names a call
        we dialled (Plivo fetches our answer URL for it)."""
        carrier = self.carrier
        try:
            call = self.profile.verify(hook)
        except SignatureError as exc:
            logger.warning(
                "webhook signature rejected", extra={"carrier": carrier, "error": str(exc)}
            )
            return WebhookAnswer(status=403, content_type="text/plain", body="invalid signature")
        except ValueError as exc:
            return WebhookAnswer(status=400, content_type="text/plain", body=str(exc))
        if not self.profile.is_new_call(call):
            return WebhookAnswer.json({})  # a status report on a call: nothing to decide
        pending = dict(hook.query).get("pending", "")
        try:
            return await self._answer(call, pending, base_url)
        except (ValueError, CarrierRestError) as exc:  # a setting missing, or REST failed
            logger.error(
                "call could not be answered",
                extra={"carrier": carrier, "call_id": call.call_id, "error": str(exc)},
            )
            status = 503 if isinstance(exc, ConfigError) else 500
            status = 502 if isinstance(exc, CarrierRestError) else status
            return WebhookAnswer(status=status, content_type="text/plain", body=str(exc))

    async def _answer(self, call: CallInfo, pending: str, base: str) -> WebhookAnswer:
        """Ask the handler (unless we dialled this call), then accept or reject it."""
        carrier = self.carrier
        self.profile.ensure_answerable(call)  # ConfigError before anything is created
        if pending in self._pending:  # answer of a call we dialled (Plivo): no handler
            token = self.runtime.tokens.issue(pending, carrier, context={"direction": "outbound"})
        else:
            try:
                await self._ask_handler(call)
            except CallRejectedError as exc:
                logger.info("call rejected by handler", extra={"call_id": call.call_id})
                return await self.profile.reject(call, exc.reason)
            token = self.runtime.tokens.issue(
                call.call_id,
                carrier,
                context={"from": call.from_, "to": call.to, "direction": call.direction},
            )
        ws_url = ws_url_of(base) + media_path(carrier)
        return await self.profile.accept(call, ws_url=ws_url, token=token)

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

    async def run_stream(
        self, ws: MediaSocket, opened: OpenedStream, counters: CallCounters
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
                **call_parameter_attributes(opened.opening.custom_parameters),
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
        room = rt.new_room(spec, callbacks)
        bridge = CallBridge(
            # reason: CallBridge is typed against aiohttp's socket; it uses the MediaSocket part
            ws=cast(web.WebSocketResponse, ws),
            codec=opened.codec,
            call=call,
            inbound=InboundAudio(carrier_format=in_format, room_rate_hz=room_rate_for(in_format)),
            outbound=OutboundAudio(
                carrier_format=out_format,
                room_rate_hz=room_rate_for(out_format),
                frame_ms=opened.profile.outbound_frame_ms,
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
        """The carrier's REST hang-up of the call; None when closing the socket is the
        hang-up (no REST client, or the carrier has no REST hang-up)."""
        if not self.profile.can_hang_up:
            return None
        profile = self.profile

        async def hangup() -> None:
            await profile.hangup(call_id)

        return hangup
