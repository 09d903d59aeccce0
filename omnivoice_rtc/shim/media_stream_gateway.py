"""PSTN gateways over carrier media streams: one :class:`MediaStreamGateway` per carrier.

A gateway answers its carrier's webhooks (signature checked first; 403 and nothing
created on failure), asks the ``on_call`` handler, answers with markup carrying a
one-time stream token, and runs a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` for
each media WebSocket that redeems a token. Everything carrier-specific is the gateway's
:class:`~omnivoice_rtc.carriers.profile.CarrierProfile`. :class:`ShimRuntime` holds what
every gateway shares (LiveKit, agent name, the :class:`~.call_guard.CallGuard` with the
token store and every limit, public URL policy, how call rooms are joined).

Call setup cannot be replayed (:mod:`.call_guard`): a replayed signed request (nonce,
JWT id, signature seen before) gets 403; a second webhook offering an answered call gets
the carrier's ``already_answered`` answer and no token; a second stream for a live call
is closed with 1008 and the live call goes on.

Webhook answers: 403 bad signature/credentials or a replay, 400 unparseable or hostile
input (:mod:`.webhook_body`), 409 (per carrier) a call already answered, 413/415 body too
large / not a form or JSON, 429 a rate limit (Retry-After), 503 gateway not started, a
carrier setting missing (the message names the variable; nothing created), a stream limit
reached or shared state unreachable, or the process draining (a rolling restart: the
balancer retries elsewhere), 502 the carrier's REST API failed, 200 otherwise.

Draining (:mod:`omnivoice_rtc.web.drain`): :meth:`MediaStreamGateway.stop_taking_calls`
refuses new calls' webhooks with 503; media streams of calls already answered are still
bridged; :meth:`MediaStreamGateway.end_calls` ends the calls still live (REST hang-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Final, cast
from urllib.parse import urlsplit

from aiohttp import web

from omnivoice_rtc._errors import (
    CallRejectedError,
    ConfigError,
    LimitError,
    ProviderError,
    ReplayError,
    RequestError,
    SignatureError,
)
from omnivoice_rtc._urls import ws_url_of
from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.profile import (
    TOKEN_PARAMETER,
    CarrierSettings,
    DialRequest,
    WebhookAnswer,
    WebhookRequest,
)
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.limits.outbound import OutboundLease
from omnivoice_rtc.livekit.names import CALL_PARAMETER_ATTRIBUTE_PREFIX
from omnivoice_rtc.media_streams.messages import Start
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio, room_rate_for
from omnivoice_rtc.shim.call_bridge import BridgeHooks, BridgeTiming, CallBridge
from omnivoice_rtc.shim.call_guard import CallLease, Refused
from omnivoice_rtc.shim.carrier_control import CarrierControl
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
from omnivoice_rtc.shim.webhook_body import (
    check_call,
    plain_answer,
    read_webhook,
    refusal_response,
)
from omnivoice_rtc.types import CallHandler, CallInfo, ProviderName

__all__ = [
    "MediaStreamGateway",
    "RoomFactory",
    "ShimRuntime",
    "answer_path",
    "call_parameter_attributes",
    "media_path",
]

logger = logging.getLogger(__name__)

GENERIC_MEDIA_PATH: Final = "/carriers/media"
"""The one WebSocket path that detects the carrier from the first frames."""
_LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1")


def answer_path(carrier: str) -> str:
    return f"/carriers/{carrier}/answer"


def media_path(carrier: str) -> str:
    return f"/carriers/{carrier}/media"


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
        self._outbound_base = public_base_url or runtime.public_base_url
        self._handler: CallHandler | None = None
        self._sessions: dict[str, PstnSession] = {}
        registry = runtime.guard.registry
        carrier = profile.name

        async def is_live(call_id: str) -> bool:
            return await registry.owner_of(carrier, call_id) is not None

        self.control = CarrierControl(profile=profile, public_base_url=self._outbound_base)
        """Call control: each session's actions, the carrier's transfer documents."""
        self._pending = DialledCalls(
            store=runtime.guard.state,
            is_live=is_live,
            new_session=lambda call: PstnSession(call=call, actions=self.control.actions()),
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
        settings: CarrierSettings = self.profile.settings
        return settings.from_number

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
        self._handler = handler

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
        carrier = self.carrier
        if not self._outbound_base:
            raise ConfigError(f"OMNIVOICE_PUBLIC_URL: {carrier} make_call needs a public URL")
        self.profile.require_rest("make_call")
        await self._purge_pending()
        lease = await self.runtime.guard.outbound.admit(to)
        try:
            pending_id = PENDING_CALL_PREFIX + secrets.token_hex(8)
            token = await self.runtime.tokens.issue(
                pending_id,
                carrier,
                context={"from": self.from_number, "to": to, "direction": "outbound"},
                source="outbound",
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
        except BaseException:
            await asyncio.shield(lease.release())
            raise
        call = CallInfo(
            call_id=dialled.call_id,
            from_=self.from_number,
            to=to,
            direction="outbound",
            carrier=carrier,
        )
        session = PstnSession(call=call, actions=self.control.actions())
        self._sessions[call.call_id] = session
        await self._pending.add(
            pending_id, session, lease, self.runtime.tokens.ttl_s, agent_name=agent_name
        )
        return session

    async def answered_elsewhere(self, session: PstnSession) -> bool:
        """Whether the call of ``session`` (dialled here) streams to another replica: no
        bridge here, a live claim in the shared live-call registry."""
        if session.bridge is not None or (
            session.closed and session.end_reason != "streamed_elsewhere"
        ):
            return False
        registry = self.runtime.guard.registry
        owner = await registry.owner_of(self.carrier, session.id)
        # our own claim: the stream reached this replica and its bridge is being built
        return owner is not None and not registry.is_ours(owner)

    async def _purge_pending(self) -> None:
        """Drop dialled calls whose stream never came (their token has expired)."""
        for session in await self._pending.purge():
            self._sessions.pop(session.id, None)

    # ------------------------------------------------------------------ webhook

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """The answer webhook: rate limit, read (bounded), verify, ask the handler, answer
        with markup or reject (see the module docstring for the statuses)."""
        if not self._started:
            return web.Response(status=503, text="gateway not started")
        if self._draining:
            return web.Response(status=503, text="draining", headers={"Retry-After": "1"})
        guard = self.runtime.guard
        client = guard.client_of(request.remote, request.headers)
        try:
            await guard.admit_webhook(client)
            base = self.runtime.base_url(request)
            hook = await read_webhook(request, url=base + request.path_qs)
        except RequestError as exc:
            return refusal_response(self.carrier, exc.status, str(exc), exc.retry_after_s)
        except ProviderError as exc:  # shared state unreachable
            return refusal_response(self.carrier, 503, f"shared state unavailable: {exc}", 1)
        answer = await self.answer_webhook(hook, base_url=base, client=client)
        response = web.Response(
            status=answer.status, text=answer.body, content_type=answer.content_type
        )
        if answer.status in (429, 503) and answer.content_type == "text/plain":
            response.headers["Retry-After"] = "1"
        return response

    async def answer_webhook(
        self, hook: WebhookRequest, *, base_url: str, client: str = ""
    ) -> WebhookAnswer:
        """Answer one verified-or-not webhook (no aiohttp): ``base_url`` is the public
        ``scheme://host`` the carrier used; ``?pending=`` in ``hook.query`` names a call
        we dialled (Plivo fetches our answer URL for it); ``client`` is the client address
        (the stream-token quota's source when the carrier names no account)."""
        carrier = self.carrier
        try:
            call = self.profile.verify(hook)
        except SignatureError as exc:
            logger.warning(
                "webhook signature rejected", extra={"carrier": carrier, "error": str(exc)}
            )
            return plain_answer(403, "invalid signature")
        except ValueError as exc:
            return plain_answer(400, str(exc))
        guard = self.runtime.guard
        account = self.profile.account_of(call)
        try:
            check_call(call)
            await guard.admit_account(carrier, account)
            claimed = await guard.claim_replay_keys(self.profile.replay_keys(hook, call))
            if not self.profile.is_new_call(call):
                return WebhookAnswer.json({})  # a status report on a call: nothing to decide
            answered = await guard.claim_answer(carrier, call.call_id)
        except RequestError as exc:
            return plain_answer(exc.status, str(exc))
        except ReplayError as exc:
            logger.warning("webhook replay refused", extra={"carrier": carrier, "what": exc.what})
            return plain_answer(403, "replayed request")
        except (LimitError, ProviderError) as exc:  # shared state full or unreachable
            return plain_answer(503, f"shared state unavailable: {exc}")
        if answered is None:
            logger.warning(
                "webhook for an answered call refused",
                extra={"carrier": carrier, "call_id": call.call_id},
            )
            await guard.forget(claimed)
            return self.profile.already_answered(call)
        pending = dict(hook.query).get("pending", "")
        answer = await self._answer_safely(call, pending, base_url, account or client)
        if answer.status >= 500:  # not answered after all: the carrier's retry may be
            await guard.forget([*claimed, answered])
        return answer

    async def _answer_safely(
        self, call: CallInfo, pending: str, base: str, source: str
    ) -> WebhookAnswer:
        try:
            return await self._answer(call, pending, base, source)
        except (ValueError, CarrierRestError, LimitError, ProviderError) as exc:
            logger.error(
                "call could not be answered",
                extra={"carrier": self.carrier, "call_id": call.call_id, "error": str(exc)},
            )
            status = 503 if isinstance(exc, ConfigError | LimitError | ProviderError) else 500
            status = 502 if isinstance(exc, CarrierRestError) else status
            return plain_answer(status, str(exc))

    def _stream_url(self, call: CallInfo, base: str) -> str:
        """The ``wss://`` URL the answer names; ConfigError when it could only be plain
        ``ws://`` to a non-loopback host. A URL sent to the carrier's REST API (Telnyx Call
        Control) comes from the configured public URL, never from the request's Host."""
        if self.profile.sends_stream_url_over_rest(call):
            if not self._outbound_base:
                raise ConfigError(
                    f"OMNIVOICE_PUBLIC_URL: required to answer {self.carrier} calls over REST "
                    "(the stream URL would otherwise come from the request's Host header)"
                )
            base = self._outbound_base.rstrip("/")
        ws_url = ws_url_of(base) + media_path(self.carrier)
        parts = urlsplit(ws_url)
        if parts.scheme == "ws" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
            raise ConfigError(
                f"OMNIVOICE_PUBLIC_URL: the webhook came over plain http to {parts.hostname}; "
                "set the public https URL (stream URLs must be wss:// beyond this machine)"
            )
        return ws_url

    async def _answer(self, call: CallInfo, pending: str, base: str, source: str) -> WebhookAnswer:
        """Ask the handler (unless we dialled this call), then accept or reject it."""
        carrier = self.carrier
        self.profile.ensure_answerable(call)  # ConfigError before anything is created
        ws_url = self._stream_url(call, base)
        await self._purge_pending()
        tokens = self.runtime.tokens
        if pending and await self._pending.is_pending(pending):  # we dialled it (Plivo)
            token = await tokens.issue(
                pending, carrier, context={"direction": "outbound"}, source="outbound"
            )
        else:
            try:
                await self._ask_handler(call)
            except CallRejectedError as exc:
                logger.info("call rejected by handler", extra={"call_id": call.call_id})
                return await self.profile.reject(call, exc.reason)
            token = await tokens.issue(
                call.call_id,
                carrier,
                context={"from": call.from_, "to": call.to, "direction": call.direction},
                source=source,
            )
        return await self.profile.accept(call, ws_url=ws_url, token=token)

    async def _ask_handler(self, call: CallInfo) -> None:
        if self._handler is None:
            return
        result = self._handler(call)
        if inspect.isawaitable(result):
            await result

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
