"""SIPGateway: phone calls over SIP trunks through livekit-sip (Go ``Gateway``).

Inbound: a carrier (or any SIP user agent) sends INVITE to livekit-sip; an inbound
trunk and a dispatch rule (``omnivoice-rtc sip apply``) put the caller into a new
room as a participant of kind ``sip`` and dispatch the agent there. The gateway
learns of such participants from LiveKit's ``participant_joined`` webhook
(:meth:`SIPGateway.attach_webhooks`; the web server does it) with a slow reconciling scan
behind it, or, with no webhooks attached, by scanning the RoomService every
``poll_interval_s`` (:mod:`omnivoice_rtc.sip.call_discovery`). It builds a
:class:`~omnivoice_rtc.types.CallInfo` from their ``sip.*`` attributes and asks
the ``on_call`` handler: returning accepts (a :class:`SIPSession` is tracked),
raising rejects (the participant is removed, livekit-sip ends the SIP call, and the
room is deleted).

Replicas: each call is claimed in the live-call registry (``state``, Redis with
``OMNIVOICE_REDIS_URL``; route ``sip``, :mod:`omnivoice_rtc.state.call_registry`) before
it is served, so of several web replicas exactly one serves it and call-control requests
find it (:mod:`omnivoice_rtc.state.call_routing`). A gateway that stops releases its claims
and leaves the calls going on; another replica's reconciler adopts them (the handler is
not asked again: the call was answered).

Outbound: :meth:`SIPGateway.make_call` creates a room (``sip-out-<12 hex>``, under the
reserved ``sip-`` namespace browsers cannot join), asks livekit-server to dial
through the outbound trunk (``CreateSIPParticipant`` with ``wait_until_answered``) and
dispatches the agent once the callee answered (:mod:`omnivoice_rtc.sip.outbound_dial`).
A failed call raises :class:`~omnivoice_rtc.SIPCallError` with the SIP status (e.g. 486
Busy Here, 603 Decline). Before anything is created the outbound guard
(:mod:`omnivoice_rtc.limits.outbound`, ``SIPGatewayOptions.outbound``) checks the
destination against the allow-list (empty: every call refused), the per-minute rate and
the calls in progress; the call holds its slot until it ends.

    gateway = SIPGateway(livekit=LiveKitSettings.from_env(),
                         options=SIPGatewayOptions(outbound_trunk="twilio-outbound"))
    gateway.on_call(handler)
    await gateway.start()
    session = await gateway.make_call("+15105550100")

Every server request goes through the process's shared
:class:`~omnivoice_rtc.livekit.rooms.RoomControl` (one ``LiveKitAPI``), leased from
:meth:`SIPGateway.start` to :meth:`SIPGateway.stop`; rooms are deleted with its
retrying, not-found-tolerant delete.

Liveness (``options.liveness``): a call's dead agent is replaced, then apologized for
(:mod:`omnivoice_rtc.sip.agent_recovery`). The room scan and joining a call's room survive
livekit-server restarts; a call that resurfaces after it was reported ended is hung up.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Coroutine
from typing import Any, Final

import aiohttp
from livekit import api, rtc

from omnivoice_rtc._errors import CallRejectedError, ConfigError, ProviderError
from omnivoice_rtc.calls.liveness import AgentRecovery
from omnivoice_rtc.calls.teardown import teardown_step
from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.limits.outbound import OutboundGuard, OutboundLease
from omnivoice_rtc.livekit.rooms import RoomControl, RoomControlLease, lease_room_control
from omnivoice_rtc.livekit.webhooks import LiveKitWebhooks
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.agent_recovery import SIPAgentRecovery
from omnivoice_rtc.sip.call_claims import REGISTRY_ROUTE, SIPCallClaims
from omnivoice_rtc.sip.call_discovery import SIPCallDiscovery
from omnivoice_rtc.sip.gateway_options import SIPGatewayOptions
from omnivoice_rtc.sip.outbound_dial import dial_outbound, resolve_outbound_trunk
from omnivoice_rtc.sip.sip_session import (
    SIPSession,
    call_info_from_attributes,
)
from omnivoice_rtc.state.memory import MemoryStateStore
from omnivoice_rtc.state.store import StateStore
from omnivoice_rtc.types import CallHandler, CallInfo, ProviderName, Session

__all__ = ["REGISTRY_ROUTE", "SIPGateway", "SIPGatewayOptions"]

logger = logging.getLogger(__name__)

_REJECTED_ROOM_WATCH_S = 120.0
ROUTE_NAME = "livekit/sip"
_ANSWERED_TTL_S: Final = 4 * 3600.0
"""How long (s) a SIP call's "answered" record lives: an adopted call is not offered again."""
_OBSERVE_BACKOFF_S: Final = (0.5, 1.0, 2.0, 4.0)
"""Waits (s) between tries to join a call's room (a server restarting); then given up."""


class SIPGateway(SIPAgentRecovery):
    """PSTN gateway over LiveKit SIP (route ``livekit/sip``); see the module docstring."""

    def __init__(
        self,
        *,
        livekit: LiveKitSettings,
        options: SIPGatewayOptions | None = None,
        state: StateStore | None = None,
        replica_id: str = "",
    ) -> None:
        """``state``: where the outbound guard counts and calls are claimed (default: this
        process's memory; share the web server's store to count and route across replicas);
        ``replica_id`` names this process in the live-call registry."""
        self._livekit = livekit
        self._options = options or SIPGatewayOptions()
        self._state: StateStore = state if state is not None else MemoryStateStore()
        self._claims = SIPCallClaims(store=self._state, replica_id=replica_id)
        self.registry = self._claims.registry
        self._outbound_guard = OutboundGuard(limits=self._options.outbound, store=self._state)
        self._outbound_leases: dict[str, OutboundLease] = {}  # by session id
        self._handler: CallHandler | None = None
        self._lease: RoomControlLease | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._end_tasks: dict[str, asyncio.Task[Any]] = {}
        """Each call's ``_end_when_closed`` task (``stop`` lets those of ended calls finish)."""
        self._sessions: dict[str, SIPSession] = {}
        self._recoveries: dict[str, AgentRecovery] = {}
        self.discovery = SIPCallDiscovery(
            on_found=self._found,
            delete_room=self._delete_room,
            interval_s=self._options.poll_interval_s,
            reconcile_interval_s=self._options.reconcile_interval_s,
        )
        # Calls that ended (call id -> monotonic deadline, s): one that resurfaces (livekit-sip
        # rejoins its room after a livekit-server restart) was reported ended: hang it up.
        self._ended: dict[str, float] = {}
        self._outbound_trunk_id = ""

    # ------------------------------------------------------------------ Gateway protocol

    @property
    def name(self) -> ProviderName:
        """``ProviderName.LIVEKIT`` (the route is :attr:`route`, ``livekit/sip``)."""
        return ProviderName.LIVEKIT

    @property
    def route(self) -> str:
        return ROUTE_NAME

    def on_call(self, handler: CallHandler) -> None:
        """Set the handler asked about each inbound call (return accepts, raise rejects)."""
        self._handler = handler

    def attach_webhooks(self, hooks: LiveKitWebhooks) -> None:
        """Learn of inbound calls from LiveKit's webhooks (the web server's receiver); the
        RoomService scan becomes a reconciler every ``reconcile_interval_s`` s."""
        self.discovery.attach(hooks)

    async def start(self) -> None:
        """Resolve the outbound trunk (if any) and start watching rooms for SIP calls."""
        if self._lease is not None:
            return
        self._lease = lease_room_control(self._livekit)
        try:
            if self._options.outbound_trunk:
                self._outbound_trunk_id = await resolve_outbound_trunk(
                    self._require_rooms().api, self._options.outbound_trunk
                )
        except BaseException:
            lease, self._lease = self._lease, None
            await lease.aclose()
            raise
        self.discovery.start(self._lease.rooms.api)

    async def stop(self) -> None:
        """Stop watching, leave every observed room and release the calls' claims (calls in
        progress go on; another replica's reconciler adopts them). Calls that already
        ended finish their teardown first (room deleted), within ``teardown_step_s``."""
        await self.discovery.aclose()
        step_s = self._options.liveness.teardown_step_s
        finishing = [  # calls that already ended: their rooms are deleted first
            task
            for call_id, task in self._end_tasks.items()
            if (session := self._sessions.get(call_id)) is None or session.closed
        ]
        if finishing:
            await asyncio.wait(finishing, timeout=step_s)
        # taken before the tasks are cancelled: a cancelled ``_end_when_closed`` forgets
        # its session, whose observer would then stay in the room (a leaked connection)
        in_progress = list(self._sessions.values())
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=step_s)
        for session in in_progress:
            await session.aclose()  # each leave bounded by teardown_step_s
        self._sessions.clear()
        for outbound in self._outbound_leases.values():
            await outbound.release()
        self._outbound_leases.clear()
        await self._outbound_guard.aclose()
        await self._claims.aclose()
        self._recoveries.clear()
        lease, self._lease = self._lease, None
        if lease is not None:
            await teardown_step("room control release", lease.aclose(), timeout_s=step_s)

    def get_session(self, call_id: str) -> Session | None:
        return self._sessions.get(call_id)

    def list_sessions(self) -> list[Session]:
        return [s for s in self._sessions.values() if not s.closed]

    async def make_call(self, to: str) -> Session:
        """Dial ``to`` (E.164 number or SIP user) through the outbound trunk; wait for answer.

        Raises SIPCallError(sip_status_code, sip_status) when the call fails (busy,
        declined, no answer), ConfigError when no outbound trunk is configured or
        ``OMNIVOICE_OUTBOUND_ALLOW`` is empty, LimitError when the outbound guard refuses
        (destination not allowed, rate, calls in progress).
        """
        rooms = self._require_rooms()
        if not self._outbound_trunk_id:
            raise ConfigError("SIPGatewayOptions.outbound_trunk: required for make_call")
        if not to or any(c.isspace() for c in to):
            raise ValueError(f"to: must be a phone number or SIP user without spaces, got {to!r}")
        outbound = await self._outbound_guard.admit(to)
        try:
            session = await self._dial(rooms, to)
        except BaseException:
            await asyncio.shield(outbound.release())
            raise
        self._outbound_leases[session.id] = outbound
        return session

    async def _dial(self, rooms: RoomControl, to: str) -> SIPSession:
        answered = await dial_outbound(
            rooms,
            to=to,
            trunk_id=self._outbound_trunk_id,
            options=self._options,
            discovery=self.discovery,
            delete_room=self._delete_room,
        )
        call = answered.call
        await self._claims.claim(call.call_id)  # in this process's memory this always succeeds
        return await self._track(call, answered.room_name, answered.identity)

    # ------------------------------------------------------------------ internals

    def _require_rooms(self) -> RoomControl:
        if self._lease is None:
            raise RuntimeError("SIPGateway: call start() first")
        return self._lease.rooms

    async def _found(self, room_name: str, participant: api.ParticipantInfo) -> bool:
        """A SIP participant the discovery found: claim it and serve it in a task."""
        call = call_info_from_attributes(
            dict(participant.attributes), direction="inbound", fallback_id=participant.sid
        )
        if call.call_id in self._sessions or call.call_id in self._claims:
            return True  # already ours (its room was briefly out of the listing)
        now = time.monotonic()
        self._ended = {c: t for c, t in self._ended.items() if t > now}
        try:
            if call.call_id not in self._ended and not await self._claims.claim(call.call_id):
                return False  # another replica serves it
        except ProviderError as exc:  # shared state unreachable: the next scan tries again
            logger.warning(
                "sip call not claimed", extra={"call_id": call.call_id, "error": str(exc)}
            )
            return False
        self._spawn(self._on_inbound(room_name, participant.identity, call))
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sip gateway task failed", exc_info=task.exception())

    async def _on_inbound(self, room_name: str, identity: str, call: CallInfo) -> None:
        if call.call_id in self._ended:
            logger.warning(
                "sip call came back after it ended; hanging up", extra={"call_id": call.call_id}
            )
            await self._reject(room_name, identity, call.call_id, "ended")
            return
        logger.info(
            "sip call",
            extra={
                "call_id": call.call_id,
                "omnivoice.pii.from": call.from_,
                "omnivoice.pii.to": call.to,
            },
        )
        try:
            first = await self._state.put_if_absent(
                f"answered:{REGISTRY_ROUTE}:{call.call_id}", "1", ttl_s=_ANSWERED_TTL_S
            )
        except ProviderError:  # shared state unreachable: ask the handler (first offer)
            first = True
        if not first:  # answered by a replica that stopped: adopt it, do not ask again
            logger.info("sip call adopted", extra={"call_id": call.call_id})
        elif self._handler is not None:
            try:
                result = self._handler(call)
                if inspect.isawaitable(result):
                    await result
            except CallRejectedError as exc:
                await self._reject(room_name, identity, call.call_id, exc.reason)
                return
            except Exception as exc:  # noqa: BLE001 - any handler error means "reject" (Go CallHandler error); logged
                logger.warning("call handler raised; rejecting", extra={"error": repr(exc)})
                await self._reject(room_name, identity, call.call_id, "handler_error")
                return
        await self._track(call, room_name, identity)

    async def _reject(self, room_name: str, identity: str, call_id: str, reason: str) -> None:
        logger.info("sip call rejected", extra={"call_id": call_id, "reason": reason})
        lk = self._require_rooms().api
        with contextlib.suppress(api.TwirpError):  # already gone: nothing left to end
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room_name, identity=identity)
            )
        await self._delete_room(room_name)
        self.discovery.rejected(room_name)
        await self._claims.release(call_id)

    async def _track(self, call: CallInfo, room_name: str, identity: str) -> SIPSession:
        route_call_started(
            self._options.ledger,
            room_name=room_name,
            identity=identity,
            attributes=call.attributes,
            call=call,
            source="sip_gateway",
            bind=False,
        )
        session = SIPSession(
            call=call,
            room_name=room_name,
            identity=identity,
            hangup=self._hangup,
            liveness=self._options.liveness,
            on_agent_gone=self._on_agent_gone,
            server_answers=lambda timeout_s: self._server_answers(room_name, timeout_s),
            livekit_api=lambda: self._require_rooms().api,
        )
        self._sessions[session.id] = session
        self._recoveries[session.id] = AgentRecovery(tries=self._options.liveness.agent_tries)
        self._spawn(self._end_when_closed(session))
        for wait_s in (*_OBSERVE_BACKOFF_S, None):
            try:
                await session.observe(
                    livekit=self._livekit, agent_join_timeout_s=self._options.agent_join_timeout_s
                )
                break
            except (rtc.ConnectError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                if wait_s is None:  # the call goes on without us; its room is ours to delete
                    logger.error(
                        "sip call not observed", extra={"call_id": call.call_id, "error": repr(exc)}
                    )
                    session.mark_closed("observe_failed")
                    break
                logger.warning(
                    "sip call room not joined; retrying",
                    extra={"call_id": call.call_id, "retry_in_s": wait_s, "error": repr(exc)},
                )
                await asyncio.sleep(wait_s)
        return session

    async def _end_when_closed(self, session: SIPSession) -> None:
        """Once the call ended: record it, leave its room, delete it (retried; a final
        failure is logged), forget the session, release its outbound slot; each step runs
        whatever the others did."""
        task = asyncio.current_task()
        if task is not None:
            self._end_tasks[session.id] = task
        try:
            reason = await session.wait_closed()
            route_call_ended(
                self._options.ledger,
                call_key(session.room_name, session.identity),
                reason=reason or "hangup",
                source="sip_gateway",
            )
            await session.aclose()
            if self._lease is not None and not await self._lease.rooms.delete_room(
                session.room_name
            ):
                logger.error("room outlived its call", extra={"call_id": session.id})
        finally:
            self._sessions.pop(session.id, None)
            self._recoveries.pop(session.id, None)
            self._ended[session.id] = time.monotonic() + _REJECTED_ROOM_WATCH_S
            self.discovery.rejected(session.room_name)  # deleted again while still listed
            self._end_tasks.pop(session.id, None)
            await self._claims.release(session.id)
            outbound = self._outbound_leases.pop(session.id, None)
            if outbound is not None:
                await outbound.release()

    async def _hangup(self, session: SIPSession, *, reason: str = "session_closed") -> None:
        """Remove the SIP participant (livekit-sip sends BYE; retried, never raising), then
        mark the session closed with ``reason`` (set first: the departure says the same)."""
        session.end_reason = session.end_reason or reason
        try:
            if self._lease is not None:
                await self._lease.rooms.remove_participant(session.room_name, session.identity)
        finally:
            session.mark_closed(session.end_reason)

    async def _delete_room(self, room_name: str) -> None:
        if self._lease is not None:  # tolerates a room already gone; retries transport errors
            await self._lease.rooms.delete_room(room_name)
