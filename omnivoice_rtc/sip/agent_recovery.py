"""The agent liveness of SIP calls (a mixin of :class:`~omnivoice_rtc.sip.sip_gateway.SIPGateway`).

A call whose agent left without ending its session, never joined, or stopped answering
gets a fresh agent with the transcript so far (up to ``agent_tries``,
:mod:`omnivoice_rtc.calls.liveness`); then a server-side participant plays the apology into
the room and the call is hung up (``agent_lost``). An agent that ended its session itself
ends the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp
from livekit import api

from omnivoice_rtc.calls.agent_tracker import AgentDeparture
from omnivoice_rtc.calls.apology import APOLOGY_RATE_HZ, announce_in_room, apology_ms, apology_pcm
from omnivoice_rtc.calls.liveness import AgentRecovery, Apologize, Redispatch, resume_metadata
from omnivoice_rtc.calls.teardown import teardown_step
from omnivoice_rtc.livekit.rooms import RoomControl, RoomControlLease
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.sip_session import APOLOGY_IDENTITY_PREFIX, SIPSession

if TYPE_CHECKING:
    from omnivoice_rtc.sip.sip_gateway import SIPGatewayOptions

__all__ = ["SIPAgentRecovery"]

logger = logging.getLogger("omnivoice_rtc.sip.sip_gateway")


class SIPAgentRecovery:
    """Agent recovery of the gateway's SIP calls (see the module docstring)."""

    _livekit: LiveKitSettings
    _options: SIPGatewayOptions
    _lease: RoomControlLease | None
    _recoveries: dict[str, AgentRecovery]

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        raise NotImplementedError  # the gateway's

    def _require_rooms(self) -> RoomControl:
        raise NotImplementedError  # the gateway's

    async def _hangup(self, session: SIPSession, *, reason: str = "session_closed") -> None:
        raise NotImplementedError  # the gateway's

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
