"""SIPGateway: phone calls over SIP trunks through livekit-sip (Go ``Gateway``).

Inbound: a carrier (or any SIP user agent) sends INVITE to livekit-sip; an inbound
trunk and a dispatch rule (``omnivoice-rtc sip apply``) put the caller into a new
room as a participant of kind ``sip`` and dispatch the agent there. The gateway
finds such participants (it polls the RoomService every ``poll_interval_s``), builds
a :class:`~omnivoice_rtc.types.CallInfo` from their ``sip.*`` attributes and asks
the ``on_call`` handler: returning accepts (a :class:`SIPSession` is tracked),
raising rejects (the participant is removed, livekit-sip ends the SIP call, and the
room is deleted).

Outbound: :meth:`SIPGateway.make_call` creates a room (``sip-out-<12 hex>``, under the
reserved ``sip-`` namespace browsers cannot join), asks livekit-server to dial
through the outbound trunk (``CreateSIPParticipant`` with ``wait_until_answered``) and
dispatches the agent once the callee answered. A failed call raises :class:`~omnivoice_rtc.SIPCallError`
with the SIP status (e.g. 486 Busy Here, 603 Decline). Before anything is created the
outbound guard (:mod:`omnivoice_rtc.limits.outbound`, ``SIPGatewayOptions.outbound``)
checks the destination against the allow-list (empty: every call refused), the
per-minute rate and the calls in progress; the call holds its slot until it ends.

    gateway = SIPGateway(livekit=LiveKitSettings.from_env(),
                         options=SIPGatewayOptions(outbound_trunk="twilio-outbound"))
    gateway.on_call(handler)
    await gateway.start()
    session = await gateway.make_call("+15105550100")

Every server request goes through the process's shared
:class:`~omnivoice_rtc.livekit.rooms.RoomControl` (one ``LiveKitAPI``), leased from
:meth:`SIPGateway.start` to :meth:`SIPGateway.stop`; rooms are deleted with its
retrying, not-found-tolerant delete.

Liveness (``options.liveness``, :mod:`omnivoice_rtc.calls.liveness`): a call whose agent
left without ending its session, never joined, or stopped answering gets a fresh agent
with the transcript so far (up to ``agent_tries``); then a server-side participant plays
the apology into the room, the SIP participant is removed (livekit-sip sends BYE) and the
room deleted. An agent that ended its session itself ends the call. The room scan
survives livekit-server restarts (a failed scan is logged and tried at the next tick),
and so does joining a call's room (retried with back-off before the call is given up).
A call in progress when the server restarts is reported ended; if livekit-sip brings it
back into a room afterwards, it is hung up rather than offered again as a new call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import aiohttp
from livekit import api, rtc

from omnivoice_rtc._errors import CallRejectedError, ConfigError, SIPCallError
from omnivoice_rtc.calls.agent_tracker import AgentDeparture
from omnivoice_rtc.calls.apology import APOLOGY_RATE_HZ, announce_in_room, apology_ms, apology_pcm
from omnivoice_rtc.calls.liveness import AgentRecovery, Apologize, Redispatch, resume_metadata
from omnivoice_rtc.calls.teardown import teardown_step
from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.ledger.route_hooks import route_call_ended, route_call_started
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.limits.outbound import OutboundGuard, OutboundLease
from omnivoice_rtc.livekit.names import SIP_OUTBOUND_ROOM_PREFIX, sip_outbound_room_name
from omnivoice_rtc.livekit.rooms import RoomControl, RoomControlLease, lease_room_control
from omnivoice_rtc.settings import (
    DEFAULT_AGENT_NAME,
    CallSettings,
    LiveKitSettings,
    OutboundLimits,
)
from omnivoice_rtc.sip.sip_session import (
    APOLOGY_IDENTITY_PREFIX,
    SIPSession,
    call_info_from_attributes,
)
from omnivoice_rtc.state.store import StateStore
from omnivoice_rtc.types import CallHandler, CallInfo, ProviderName, Session

__all__ = ["SIPGateway", "SIPGatewayOptions"]

logger = logging.getLogger(__name__)

_SIP_KIND = 3  # livekit.ParticipantInfo.Kind.SIP
_REJECTED_ROOM_WATCH_S = 120.0
ROUTE_NAME = "livekit/sip"
_OBSERVE_BACKOFF_S: Final = (0.5, 1.0, 2.0, 4.0)
"""Waits (s) between tries to join a call's room (a server restarting); then given up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPGatewayOptions:
    """How the gateway finds calls and dials out.

    ``outbound_trunk``: name or id (``ST_…``) of the outbound trunk for
    :meth:`SIPGateway.make_call` (empty: outbound calls are refused).
    ``agent_name``: the agent dispatched to outbound-call rooms.
    ``poll_interval_s``: seconds between RoomService scans for new SIP participants.
    ``ringing_timeout_s``: seconds an outbound call may ring before it fails.
    ``outbound_room_prefix``: outbound rooms are ``<prefix>-<random>``; the prefix must
    start with a reserved namespace (``sip-`` or ``call-``) so browsers cannot join.
    ``outbound``: the toll-fraud guard's limits (``Settings.limits.outbound`` from the
    environment); the default allows no destination.
    ``ledger``: records each call's start and end (and failed outbound calls) in the call
    ledger (a started :class:`~omnivoice_rtc.ledger.service.LedgerService`).
    ``agent_join_timeout_s``: seconds a call's first agent has to be in the room.
    ``liveness``: agent pings, fresh agents (also dispatched as ``agent_name``), teardown.
    """

    outbound_trunk: str = ""
    agent_name: str = DEFAULT_AGENT_NAME
    poll_interval_s: float = 0.5
    ringing_timeout_s: float = 30.0
    outbound_room_prefix: str = SIP_OUTBOUND_ROOM_PREFIX
    outbound: OutboundLimits = field(default_factory=OutboundLimits)
    ledger: LedgerService | None = None
    agent_join_timeout_s: float = 20.0
    liveness: CallSettings = field(default_factory=CallSettings)

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s: must be > 0 s, got {self.poll_interval_s}")
        if self.ringing_timeout_s <= 0:
            raise ValueError(f"ringing_timeout_s: must be > 0 s, got {self.ringing_timeout_s}")
        if self.agent_join_timeout_s <= 0:
            raise ValueError(
                f"agent_join_timeout_s: must be > 0 s, got {self.agent_join_timeout_s}"
            )
        if not self.agent_name.strip():
            raise ValueError("agent_name: must not be empty")
        sip_outbound_room_name(self.outbound_room_prefix)  # ConfigError unless reserved


class SIPGateway:
    """PSTN gateway over LiveKit SIP (route ``livekit/sip``); see the module docstring."""

    def __init__(
        self,
        *,
        livekit: LiveKitSettings,
        options: SIPGatewayOptions | None = None,
        state: StateStore | None = None,
    ) -> None:
        """``state``: where the outbound guard counts (default: this process's memory;
        share the web server's store to count across replicas)."""
        self._livekit = livekit
        self._options = options or SIPGatewayOptions()
        self._outbound_guard = OutboundGuard(limits=self._options.outbound, store=state)
        self._outbound_leases: dict[str, OutboundLease] = {}  # by session id
        self._handler: CallHandler | None = None
        self._lease: RoomControlLease | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, SIPSession] = {}
        self._recoveries: dict[str, AgentRecovery] = {}
        self._seen: set[tuple[str, str]] = set()  # (room, identity) already handled
        self._dialing: set[str] = set()  # rooms of make_call() calls not yet answered
        # Rooms of rejected calls -> monotonic deadline (s): an agent dispatched by the
        # rule may join after the room was deleted and re-create it; delete it again.
        self._rejected: dict[str, float] = {}
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

    async def start(self) -> None:
        """Resolve the outbound trunk (if any) and start watching rooms for SIP calls."""
        if self._lease is not None:
            return
        self._lease = lease_room_control(self._livekit)
        try:
            if self._options.outbound_trunk:
                self._outbound_trunk_id = await self._resolve_trunk(self._options.outbound_trunk)
        except BaseException:
            lease, self._lease = self._lease, None
            await lease.aclose()
            raise
        self._poll_task = asyncio.get_running_loop().create_task(self._poll_loop())

    async def stop(self) -> None:
        """Stop watching, leave every observed room (calls in progress go on)."""
        poll, self._poll_task = self._poll_task, None
        if poll is not None:
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poll
        step_s = self._options.liveness.teardown_step_s
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=step_s)
        for session in list(self._sessions.values()):
            await session.aclose()  # each leave bounded by teardown_step_s
        self._sessions.clear()
        for outbound in self._outbound_leases.values():
            await outbound.release()
        self._outbound_leases.clear()
        await self._outbound_guard.aclose()
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
        lk = rooms.api
        room_name = sip_outbound_room_name(self._options.outbound_room_prefix)
        identity = f"sip-{secrets.token_hex(4)}"
        self._seen.add((room_name, identity))
        self._dialing.add(room_name)
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=self._outbound_trunk_id,
            sip_call_to=to,
            room_name=room_name,
            participant_identity=identity,
            participant_name="Phone",
            wait_until_answered=True,
        )
        request.ringing_timeout.FromTimedelta(timedelta(seconds=self._options.ringing_timeout_s))
        dialled = CallInfo(call_id=identity, to=to, direction="outbound")
        ledger_id = route_call_started(
            self._options.ledger,
            room_name=room_name,
            identity=identity,
            attributes={"sip.phoneNumber": to},
            call=dialled,
            source="sip_gateway",
            answered=False,
            bind=False,
        )
        try:
            await rooms.create_room(room_name)
            await lk.sip.create_sip_participant(request)
        except api.SipCallError as exc:
            await self._delete_room(room_name)
            code = exc.sip_status_code or 0
            status = exc.sip_status or exc.message
            route_call_ended(
                self._options.ledger, ledger_id, reason=f"sip_{code}", source="sip_gateway"
            )
            logger.info(
                "outbound sip call failed",
                extra={"omnivoice.pii.to": to, "sip_status_code": code, "sip_status": status},
            )
            raise SIPCallError(
                f"call failed: SIP {code} {status}", sip_status_code=code, sip_status=status
            ) from exc
        except BaseException:  # other API errors, cancellation: no room is left behind
            await asyncio.shield(self._delete_room(room_name))
            raise
        finally:
            self._dialing.discard(room_name)
        # Dispatch the agent only once the callee answered: a failed call never gets an
        # agent (which would re-create the deleted room by joining it).
        await rooms.dispatch_agent(room_name, self._options.agent_name)
        participant = await lk.room.get_participant(
            api.RoomParticipantIdentity(room=room_name, identity=identity)
        )
        call = call_info_from_attributes(
            dict(participant.attributes), direction="outbound", fallback_id=participant.sid
        )
        return await self._track(call, room_name, identity)

    # ------------------------------------------------------------------ internals

    def _require_rooms(self) -> RoomControl:
        if self._lease is None:
            raise RuntimeError("SIPGateway: call start() first")
        return self._lease.rooms

    async def _resolve_trunk(self, name_or_id: str) -> str:
        lk = self._require_rooms().api
        listed = await lk.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
        for trunk in listed.items:
            if name_or_id in (trunk.sip_trunk_id, trunk.name):
                return trunk.sip_trunk_id
        raise ConfigError(
            f"SIPGatewayOptions.outbound_trunk: no outbound trunk is named {name_or_id!r} "
            "(omnivoice-rtc sip apply creates it)"
        )

    async def _poll_loop(self) -> None:
        while True:
            try:
                await self._scan()
            except (api.TwirpError, aiohttp.ClientError, TimeoutError) as exc:
                # livekit-server briefly unreachable: scan again at the next tick
                logger.warning("sip room scan failed", extra={"error": repr(exc)})
            await asyncio.sleep(self._options.poll_interval_s)

    async def _scan(self) -> None:
        lk = self._require_rooms().api
        rooms = await lk.room.list_rooms(api.ListRoomsRequest())
        names = {room.name for room in rooms.rooms}
        now = time.monotonic()
        self._rejected = {n: t for n, t in self._rejected.items() if t > now}
        self._ended = {c: t for c, t in self._ended.items() if t > now}
        for name in names & self._rejected.keys():
            await self._delete_room(name)
        # Forget rooms that are gone (keeps _seen bounded); dialing rooms may not exist yet.
        self._seen = {key for key in self._seen if key[0] in names or key[0] in self._dialing}
        for room in rooms.rooms:
            listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room.name))
            for participant in listed.participants:
                key = (room.name, participant.identity)
                if participant.kind != _SIP_KIND or key in self._seen:
                    continue
                if "sip.ruleID" not in participant.attributes:
                    # Not (yet) an inbound call: a dispatch rule admits every inbound call
                    # and livekit-sip sets sip.ruleID; look again at the next scan.
                    continue
                self._seen.add(key)
                self._spawn(self._on_inbound(room.name, participant))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sip gateway task failed", exc_info=task.exception())

    async def _on_inbound(self, room_name: str, participant: api.ParticipantInfo) -> None:
        call = call_info_from_attributes(
            dict(participant.attributes), direction="inbound", fallback_id=participant.sid
        )
        if call.call_id in self._sessions:
            return  # already tracked (its room was briefly out of the listing)
        if call.call_id in self._ended:
            logger.warning(
                "sip call came back after it ended; hanging up", extra={"call_id": call.call_id}
            )
            await self._reject(room_name, participant.identity, call.call_id, "ended")
            return
        logger.info(
            "sip call",
            extra={
                "call_id": call.call_id,
                "omnivoice.pii.from": call.from_,
                "omnivoice.pii.to": call.to,
            },
        )
        if self._handler is not None:
            try:
                result = self._handler(call)
                if inspect.isawaitable(result):
                    await result
            except CallRejectedError as exc:
                await self._reject(room_name, participant.identity, call.call_id, exc.reason)
                return
            except Exception as exc:  # noqa: BLE001 - any handler error means "reject" (Go CallHandler error); logged
                logger.warning("call handler raised; rejecting", extra={"error": repr(exc)})
                await self._reject(room_name, participant.identity, call.call_id, "handler_error")
                return
        await self._track(call, room_name, participant.identity)

    async def _reject(self, room_name: str, identity: str, call_id: str, reason: str) -> None:
        logger.info("sip call rejected", extra={"call_id": call_id, "reason": reason})
        lk = self._require_rooms().api
        with contextlib.suppress(api.TwirpError):  # already gone: nothing left to end
            await lk.room.remove_participant(
                api.RoomParticipantIdentity(room=room_name, identity=identity)
            )
        await self._delete_room(room_name)
        self._rejected[room_name] = time.monotonic() + _REJECTED_ROOM_WATCH_S

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
            outbound = self._outbound_leases.pop(session.id, None)
            if outbound is not None:
                await outbound.release()

    # ------------------------------------------------------------------ agent liveness

    async def _server_answers(self, room_name: str, timeout_s: float) -> bool:
        """Whether livekit-server answers a request about ``room_name`` within ``timeout_s`` (s)."""
        if self._lease is None:
            return False
        try:
            async with asyncio.timeout(timeout_s):
                await self._lease.rooms.list_rooms([room_name])
        except (TimeoutError, OSError, aiohttp.ClientError, api.TwirpError, RuntimeError):
            return False
        return True

    def _on_agent_gone(self, session: SIPSession, departure: AgentDeparture) -> None:
        if session.closed:
            return
        session.liveness_log.append((time.monotonic(), f"agent_lost:{departure}"))
        if session.handed_over:  # warm transfer: caller and human talk on, no agent wanted
            return
        if departure in ("", "agent_ended"):  # the agent ended the conversation: hang up
            self._spawn(session.close())
            return
        self._spawn(self._recover(session, departure))

    async def _recover(self, session: SIPSession, reason: str) -> None:
        recovery = self._recoveries.get(session.id)
        decision = recovery.on_agent_lost(reason) if recovery is not None else None
        if isinstance(decision, Redispatch):
            logger.warning(
                "sip call lost its agent; dispatching a fresh one",
                extra={"call_id": session.id, "why": reason, "attempt": decision.attempt},
            )
            metadata = resume_metadata(session.transcript())
            old = session.expect_fresh_agent()
            rooms = self._require_rooms()
            try:
                await rooms.dispatch_agent(
                    session.room_name, self._options.agent_name, metadata=metadata
                )
            except (aiohttp.ClientError, TimeoutError, api.TwirpError, RuntimeError) as exc:
                logger.warning(
                    "fresh agent not dispatched", extra={"call_id": session.id, "error": repr(exc)}
                )
                session.liveness_log.append((time.monotonic(), "dispatch_failed"))
                await self._recover(session, "dispatch_failed")
                return
            session.liveness_log.append((time.monotonic(), f"agent_dispatched:{decision.attempt}"))
            if old:  # a killed agent stays listed 15-25 s: it must not come back
                await teardown_step(
                    "stale agent removal",
                    rooms.remove_participant(session.room_name, old),
                    timeout_s=self._options.liveness.teardown_step_s,
                    context={"call_id": session.id},
                )
        elif isinstance(decision, Apologize):
            await self._apologize(session, decision.reason)

    async def _apologize(self, session: SIPSession, reason: str) -> None:
        """Play the apology into the call's room, then hang up (``agent_lost``)."""
        logger.warning(
            "no agent left for the sip call; apologizing and hanging up",
            extra={"call_id": session.id, "why": reason},
        )
        session.liveness_log.append((time.monotonic(), "apology_started"))
        await teardown_step(
            "apology",
            announce_in_room(
                livekit=self._livekit,
                room=session.room_name,
                identity=APOLOGY_IDENTITY_PREFIX + session.identity,
                pcm=apology_pcm(APOLOGY_RATE_HZ),
                rate_hz=APOLOGY_RATE_HZ,
            ),
            timeout_s=apology_ms() / 1000 + self._options.liveness.teardown_step_s,
            context={"call_id": session.id},
        )
        session.liveness_log.append((time.monotonic(), "apology_done"))
        await self._hangup(session, reason="agent_lost")

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
