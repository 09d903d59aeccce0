"""BridgeWatchdog: what a :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` does when its
call stops being alive (a mixin of ``CallBridge``, which owns the state it reads).

* the carrier sent no audio for ``media_timeout_s``: the call ends (``media_timeout``,
  REST hang-up);
* the agent is gone: it ended its session, so the call ends (``agent_left``); otherwise it
  left, never joined or stopped answering, and a fresh agent is dispatched with the
  transcript so far (``agent_tries`` times, :mod:`omnivoice_rtc.calls.liveness`); then
  the caller hears the apology (:func:`~.bridge_liveness.announce`) and is hung up
  (``agent_lost``).

Each step is noted in :attr:`CallBridge.liveness_log` (clock reading in s, what).
The time-driven helpers (clock, sleep, settings) are in :mod:`.bridge_liveness`.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import ClientError
from livekit import api

from omnivoice_rtc._clock import Clock
from omnivoice_rtc.calls.apology import apology_pcm
from omnivoice_rtc.calls.liveness import AgentRecovery, Apologize, Redispatch, resume_metadata
from omnivoice_rtc.shim.bridge_liveness import BridgeTiming, announce, watch_media
from omnivoice_rtc.shim.bridge_state import BridgeState
from omnivoice_rtc.shim.caller_ingress import CallerIngress

__all__ = ["BridgeWatchdog"]

# the bridge's logger: these records kept their logger name when the code moved here
logger = logging.getLogger("omnivoice_rtc.shim.call_bridge")


class BridgeWatchdog(BridgeState):
    """Media timeout and agent loss of a call bridge (see the module docstring)."""

    # more of the bridge's state, set by CallBridge.__init__ (the rest: BridgeState)
    timing: BridgeTiming
    ingress: CallerIngress
    recovery: AgentRecovery
    liveness_log: list[tuple[float, str]]
    _clock: Clock
    _ending: str
    _room_rate_out: int
    _send_task: asyncio.Task[None] | None

    def _end_soon(self, reason: str) -> None:
        raise NotImplementedError  # the bridge's

    async def end(self, reason: str) -> None:
        raise NotImplementedError  # the bridge's

    async def flush(self, reason: str) -> None:
        raise NotImplementedError  # the bridge's

    def _note(self, what: str) -> None:
        self.liveness_log.append((self._clock(), what))

    async def _watch_media(self) -> None:
        """End the call when the carrier has sent no audio for ``media_timeout_s``."""
        idle_s = await watch_media(
            last_media_at=lambda: self.ingress.last_media_at, timing=self.timing
        )
        logger.warning(
            "carrier stream sent no audio; ending the call",
            extra={"call_id": self.call.call_id, "idle_s": round(idle_s, 3)},
        )
        self._note("media_timeout")
        self._end_soon("media_timeout")

    def on_agent_left(self) -> None:
        """Room callback: the agent is gone. It ended its session: the call is over.
        Otherwise (it left, never joined, stopped answering) a fresh agent or the apology."""
        departure = self.room.agent_departure
        if departure in ("", "agent_ended"):
            self._end_soon("agent_left")
            return
        if self._ending or self.closed:
            return
        self._note(f"agent_lost:{departure}")
        self.spawn(self._recover(departure))

    async def _recover(self, reason: str) -> None:
        decision = self.recovery.on_agent_lost(reason)
        if isinstance(decision, Redispatch):
            logger.warning(
                "call lost its agent; dispatching a fresh one",
                extra={"call_id": self.call.call_id, "why": reason, "attempt": decision.attempt},
            )
            metadata = resume_metadata(self.hooks.transcript())
            try:
                await self.room.replace_agent(metadata=metadata)
            except (OSError, ClientError, TimeoutError, api.TwirpError, RuntimeError) as exc:
                logger.warning(
                    "fresh agent not dispatched",
                    extra={"call_id": self.call.call_id, "error": repr(exc)},
                )
                self._note("dispatch_failed")
                await self._recover("dispatch_failed")  # the next try, or the apology
                return
            self._note(f"agent_dispatched:{decision.attempt}")
            self.hooks.on_agent_replaced()
        elif isinstance(decision, Apologize):
            await self._apologize(decision.reason)

    async def _apologize(self, reason: str) -> None:
        """Play the apology to the caller (no agent needed), then hang up (``agent_lost``)."""
        logger.warning(
            "no agent left for the call; apologizing and hanging up",
            extra={"call_id": self.call.call_id, "why": reason},
        )
        self._note("apology_started")
        self._announcing = True
        if self._send_task is not None and not self.ws.closed:
            await self.flush("apology")
            await announce(
                apology_pcm(self._room_rate_out),
                rate_hz=self._room_rate_out,
                push=self._push_announcement,
                stopped=lambda: self.ws.closed,
                timing=self.timing,
            )
        self._note("apology_done")
        await self.end("agent_lost")

    def _push_announcement(self, pcm: bytes) -> None:
        if self.playout.on_announcement(pcm):
            self._frames_ready.set()
