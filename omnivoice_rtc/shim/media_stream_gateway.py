"""PSTN gateways over carrier media streams: one :class:`MediaStreamGateway` per carrier.

A gateway answers its carrier's webhooks (:mod:`.webhook_answer`: signature checked first,
the ``on_call`` handler asked, markup with a one-time stream token), places outbound calls
(:mod:`.carrier_dialler`), and runs a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` for
each media WebSocket that redeems a token. Everything carrier-specific is the gateway's
:class:`~omnivoice_rtc.carriers.profile.CarrierProfile`. :class:`ShimRuntime` holds what
every gateway shares (LiveKit, agent name, the :class:`~.call_guard.CallGuard` with the
token store and every limit, public URL policy, how call rooms are joined).

Call setup cannot be replayed (:mod:`.call_guard`): a replayed signed request (nonce,
JWT id, signature seen before) gets 403; a second webhook offering an answered call gets
the carrier's ``already_answered`` answer and no token; a second stream for a live call
is closed with 1008 and the live call goes on.

Webhook answers: see :mod:`.webhook_answer`; besides those, 503 when the gateway is not
started, or the process is draining (a rolling restart: the balancer retries elsewhere).

Draining (:mod:`omnivoice_rtc.web.drain`): :meth:`MediaStreamGateway.stop_taking_calls`
refuses new calls' webhooks with 503; media streams of calls already answered are still
bridged; :meth:`MediaStreamGateway.end_calls` ends the calls still live (REST hang-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import cast

from aiohttp import web

from omnivoice_rtc._errors import LimitError, ProviderError
from omnivoice_rtc.carriers.profile import TOKEN_PARAMETER, WebhookAnswer, WebhookRequest
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.limits.outbound import OutboundLease
from omnivoice_rtc.livekit.names import CALL_PARAMETER_ATTRIBUTE_PREFIX
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio, room_rate_for
from omnivoice_rtc.shim.call_bridge import BridgeHooks, BridgeTiming, CallBridge
from omnivoice_rtc.shim.call_guard import CallLease, Refused
from omnivoice_rtc.shim.carrier_control import CarrierControl
from omnivoice_rtc.shim.carrier_dialler import OutboundDialler
from omnivoice_rtc.shim.dialled_calls import DialledCalls
from omnivoice_rtc.shim.handshake import PENDING_CALL_PREFIX, OpenedStream
from omnivoice_rtc.shim.media_socket import MediaSocket
from omnivoice_rtc.shim.policy import CallCounters
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.rtc_call_room import (
    CallRoomSpec,
    RoomAudioOptions,
    RoomCallbacks,
    call_participant_identity,
    call_room_name,
)
from omnivoice_rtc.shim.shim_runtime import RoomFactory, ShimRuntime
from omnivoice_rtc.shim.webhook_answer import WebhookAnswerer
from omnivoice_rtc.types import CallHandler, CallInfo, ProviderName

__all__ = [
    "MediaStreamGateway",
    "RoomFactory",
    "ShimRuntime",
    "call_parameter_attributes",
]

logger = logging.getLogger(__name__)


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
        outbound_base = public_base_url or runtime.public_base_url
        self._sessions: dict[str, PstnSession] = {}
        registry = runtime.guard.registry
        carrier = profile.name

        async def is_live(call_id: str) -> bool:
            return await registry.owner_of(carrier, call_id) is not None

        self.control = CarrierControl(profile=profile, public_base_url=outbound_base)
        """Call control: each session's actions, the carrier's transfer documents."""
        self._pending = DialledCalls(
            store=runtime.guard.state,
            is_live=is_live,
            new_session=lambda call: PstnSession(call=call, actions=self.control.actions()),
        )
        self._dialler = OutboundDialler(
            profile=profile,
            runtime=runtime,
            public_base_url=outbound_base,
            control=self.control,
            pending=self._pending,
            sessions=self._sessions,
        )
        self._webhooks = WebhookAnswerer(
            profile=profile, runtime=runtime, public_base_url=outbound_base, dialler=self._dialler
        )
        self._bridges: set[CallBridge] = set()
        self._started = False
        self._draining = False

    @property
    def name(self) -> ProviderName:
        return ProviderName(self.profile.name)

    @property
    def carrier(self) -> str:
        return self.profile.name

    @property
    def from_number(self) -> str:
        """Caller id for :meth:`make_call` (the carrier's ``*_FROM_NUMBER`` setting)."""
        return self._dialler.from_number

    @property
    def started(self) -> bool:
        return self._started

    @property
    def draining(self) -> bool:
        """True once :meth:`stop_taking_calls` was called (a rolling restart)."""
        return self._draining

    @property
    def live_calls(self) -> int:
        """Calls bridged by this process now."""
        return len(self._bridges)

    def stop_taking_calls(self) -> None:
        """Refuse new calls' webhooks with 503 from now on (streams of answered calls go on)."""
        self._draining = True

    async def end_calls(self, reason: str) -> None:
        """End every live call with ``reason`` (carrier REST hang-up where configured)."""
        await asyncio.gather(*(b.end(reason) for b in list(self._bridges)))

    async def start(self) -> None:
        """Start answering webhooks and streams (before: 503 / 1013)."""
        self._started = True

    async def stop(self) -> None:
        """End every call (carrier hang-up where configured), drop dialled calls whose
        stream has not come, and close the REST client."""
        self._started = False
        await self.end_calls("gateway_stopped")
        await self._pending.aclose("gateway_stopped")
        await self.profile.aclose()

    def on_call(self, handler: CallHandler) -> None:
        """Called with each inbound call's CallInfo; raise CallRejectedError to reject."""
        self._webhooks.handler = handler

    def get_session(self, call_id: str) -> PstnSession | None:
        return self._sessions.get(call_id)

    def list_sessions(self) -> list[PstnSession]:
        return list(self._sessions.values())

    async def make_call(self, to: str, *, agent_name: str = "") -> PstnSession:
        """Dial ``to`` over the carrier's REST API; the answered call streams to us.

        Returns the session at once (its audio starts when the carrier opens the stream).
        Needs a public URL (the carrier must reach us) and the carrier's REST credentials:
        ConfigError names the missing variable, before anything is created. The outbound
        guard comes first (:mod:`omnivoice_rtc.limits.outbound`): a destination outside
        ``OMNIVOICE_OUTBOUND_ALLOW`` (ConfigError when it is empty), the per-minute rate or
        the concurrent outbound calls refuse with LimitError. A call whose stream never
        comes is dropped once its stream token has expired.
        ``agent_name``: the agent dispatched to this call's room (default: the runtime's).
        """
        return await self._dialler.make_call(to, agent_name=agent_name)

    async def answered_elsewhere(self, session: PstnSession) -> bool:
        """Whether the call of ``session`` (dialled here) streams to another replica: no
        bridge here, a live claim in the shared live-call registry."""
        return await self._dialler.answered_elsewhere(session)

    # ------------------------------------------------------------------ webhook

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The answer webhook: 503 unless started and taking calls; then rate limit, read
        (bounded), verify, ask the handler, answer with markup or reject (the statuses:
        :mod:`.webhook_answer`)."""
        if not self._started:
            return web.Response(status=503, text="gateway not started")
        if self._draining:
            return web.Response(status=503, text="draining", headers={"Retry-After": "1"})
        return await self._webhooks.handle_webhook(request)

    async def answer_webhook(
        self, hook: WebhookRequest, *, base_url: str, client: str = ""
    ) -> WebhookAnswer:
        """Answer one verified-or-not webhook (no aiohttp): ``base_url`` is the public
        ``scheme://host`` the carrier used; ``?pending=`` in ``hook.query`` names a call
        we dialled (Plivo fetches our answer URL for it); ``client`` is the client address
        (the stream-token quota's source when the carrier names no account)."""
        return await self._webhooks.answer_webhook(hook, base_url=base_url, client=client)

    # ------------------------------------------------------------------ stream

    async def _call_id_of(self, opened: OpenedStream) -> str:
        """The id the stream's call will have (what :meth:`_session_for` will use)."""
        grant, start = opened.grant, opened.start
        real_id = start.call_id if isinstance(start, Start) else ""
        if grant.call_id.startswith(PENDING_CALL_PREFIX):
            dialled_id = await self._pending.call_id_of(grant.call_id)
            if dialled_id is not None:
                return real_id or dialled_id
        return real_id or grant.call_id

    async def _session_for(
        self, opened: OpenedStream
    ) -> tuple[PstnSession, OutboundLease | None, str]:
        """The call's session, its outbound slot (dialled here) and the agent it asked for."""
        grant = opened.grant
        start = opened.start
        if grant.call_id.startswith(PENDING_CALL_PREFIX):
            dialled = await self._pending.take(grant.call_id)
            if dialled is not None:
                session = dialled.session
                real_id = start.call_id if isinstance(start, Start) else ""
                if real_id and real_id != session.id:  # Plivo's dial returned a request id
                    self._sessions.pop(session.id, None)
                    session._rebind(real_id)
                self._sessions[session.id] = session
                return session, dialled.lease, dialled.agent_name
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
        session = PstnSession(call=call, actions=self.control.actions())
        self._sessions[call.call_id] = session
        return session, None, ""

    async def run_stream(
        self, ws: MediaSocket, opened: OpenedStream, counters: CallCounters, *, client: str = ""
    ) -> None:
        """Bridge an authenticated media stream into a room until the call ends.

        First the call is claimed (:meth:`~.call_guard.CallGuard.start_call`): a second
        stream for a live call is closed with 1008 and a full call cap with 1013, before
        any room is touched. ``client`` is the stream's client address (per-address cap).
        """
        try:
            started = await self.runtime.guard.start_call(
                opened.carrier, await self._call_id_of(opened), client
            )
        except (LimitError, ProviderError) as exc:  # state full or unreachable: refuse
            started = Refused(1013, f"shared state unavailable: {type(exc).__name__}")
        if isinstance(started, Refused):
            if not ws.closed:
                await ws.close(code=started.code, message=started.reason.encode()[:120])
            return
        try:
            await self._bridge(ws, opened, counters, started)
        finally:
            await asyncio.shield(started.release())

    async def _bridge(
        self, ws: MediaSocket, opened: OpenedStream, counters: CallCounters, started: CallLease
    ) -> None:
        session, outbound, dialled_agent = await self._session_for(opened)
        if outbound is not None:
            self._pending.bridged(started.owner, outbound)
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
            agent_name=dialled_agent or rt.agent_name,
            audio=RoomAudioOptions(
                publish_rate_hz=room_rate_for(in_format),
                subscribe_rate_hz=room_rate_for(out_format),
                source_queue_ms=rt.source_queue_ms,
            ),
            participant_kind=rt.participant_kind,
            agent_join_timeout_s=rt.agent_join_timeout_s,
            liveness=rt.liveness,
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
                transcript=session.transcript,
                on_agent_replaced=session.agent_replaced,
            ),
            counters=counters,
            timing=BridgeTiming(liveness=rt.liveness),
        )
        bridge.wire(callbacks)
        callbacks.on_call_control = session.on_call_control
        session.attach(bridge)
        self._bridges.add(bridge)
        ledger_id = route_call_started(
            rt.ledger,
            room_name=spec.room_name,
            identity=spec.identity,
            attributes=spec.attributes,
            call=call,
        )
        reason = "error"
        try:
            reason = await bridge.run()
        finally:
            route_call_ended(
                rt.ledger,
                ledger_id,
                reason=reason,
                carrier=opened.carrier,
                counters=counters.as_dict(),
            )
            self._bridges.discard(bridge)
            with contextlib.suppress(KeyError):
                del self._sessions[call.call_id]
            await asyncio.shield(self._pending.ended(started.owner))

    def _hangup_for(self, call_id: str) -> Callable[[], Awaitable[None]] | None:
        """The carrier's REST hang-up of the call; None when closing the socket is the
        hang-up (no REST client, or the carrier has no REST hang-up)."""
        if not self.profile.can_hang_up:
            return None
        profile = self.profile

        async def hangup() -> None:
            await profile.hangup(call_id)

        return hangup
