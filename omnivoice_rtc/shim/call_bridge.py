"""CallBridge: the socket pump between one carrier media stream and one call room.

Every decision is made by three state machines with no I/O (time from an injected clock);
the bridge reads, feeds them, and does what they say:

* caller -> room: ``socket frame -> CallerIngress.on_frame`` (parse, real-time budget,
  counters; :mod:`.caller_ingress`) ``-> Relay`` ``-> _publish_loop -> pop_caller_audio
  -> CallRoomBase.push_caller_audio``; digits held during the join, then forwarded;
  ``StopStream`` / ``PolicyClose`` end the call;
* agent -> caller (:mod:`.bridge_playout`, a mixin of the bridge): room callback
  ``on_agent_audio -> AgentPlayout.on_agent_audio``
  (:mod:`.agent_playout`: carrier frames in a bounded drop-oldest queue) ``-> _send_loop``
  writes them as they come (the carrier buffers; no fixed-clock pacer that could fall
  behind), asking :class:`~.playback_marks.PlaybackMarks` after each frame whether a
  marker is due;
* barge-in: agent state / events -> ``AgentPlayout`` -> ``Flush`` -> :meth:`CallBridge.flush`
  sends the carrier's clear; agent digits go in-band as tones;
* liveness (:class:`~omnivoice_rtc.settings.CallSettings`): no audio for ``media_timeout_s``
  ends the call with a REST hang-up (``media_timeout``); an agent gone without ending its
  session gets a fresh one with the transcript so far (``agent_tries`` times), then the
  caller hears the apology and is hung up (``agent_lost``); see :attr:`CallBridge.liveness_log`
  (the steps: :mod:`.bridge_watchdog`, a mixin of the bridge);
* teardown: tasks cancelled, socket closed, room closed, ``on_closed`` hook, once; every
  step runs whatever the others did, each bounded (:mod:`omnivoice_rtc.calls.teardown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Final

from aiohttp import ClientError, WebSocketError, WSMsgType
from livekit import api, rtc
from livekit.rtc.participant import PublishTrackError

from omnivoice_rtc._errors import SessionClosedError, StackError
from omnivoice_rtc.calls.liveness import AgentRecovery
from omnivoice_rtc.calls.teardown import call_hook, stop_tasks, teardown_step
from omnivoice_rtc.media_streams.messages import MediaStreamCodec
from omnivoice_rtc.shim.agent_playout import AgentPlayout
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.bridge_hooks import BridgeHooks
from omnivoice_rtc.shim.bridge_liveness import BridgeTiming
from omnivoice_rtc.shim.bridge_playout import BridgePlayout
from omnivoice_rtc.shim.bridge_watchdog import BridgeWatchdog
from omnivoice_rtc.shim.call_room import CallRoomBase, RoomCallbacks
from omnivoice_rtc.shim.caller_ingress import (
    CallerIngress,
    CarrierError,
    Drop,
    ForwardDigit,
    HoldDigit,
    Ignored,
    IngressDecision,
    MarkEcho,
    PolicyClose,
    Relay,
    StopStream,
)
from omnivoice_rtc.shim.media_socket import MediaSocket
from omnivoice_rtc.shim.playback_marks import MouthToEar, PlaybackMarks
from omnivoice_rtc.shim.policy import CLOSE_NORMAL, CLOSE_TOO_BIG, CallCounters, MediaPolicy
from omnivoice_rtc.types import CallInfo

__all__ = ["BridgeHooks", "BridgeTiming", "CallBridge"]

logger = logging.getLogger(__name__)

_ABNORMAL_CLOSURE: Final = 1006
"""The socket died without a close frame (reset, or no pong to our heartbeat)."""


# BridgePlayout before BridgeWatchdog: its flush is the one the watchdog's stub stands for
class CallBridge(BridgePlayout, BridgeWatchdog):
    """One carrier media stream <-> one room participant (see module doc).

    ``ws`` is the stream's socket (already through the handshake), ``codec`` is bound to the
    stream (``bind``), ``room`` is not yet started (:meth:`wire` its callbacks to this
    bridge). ``timing`` (clock in monotonic seconds, sleep, liveness settings) drives
    every time-based decision. :meth:`run` returns when the call is over and everything
    is released.
    """

    def __init__(
        self,
        *,
        ws: MediaSocket,
        codec: MediaStreamCodec,
        call: CallInfo,
        inbound: InboundAudio,
        outbound: OutboundAudio,
        room: CallRoomBase,
        policy: MediaPolicy | None = None,
        hooks: BridgeHooks | None = None,
        counters: CallCounters | None = None,
        timing: BridgeTiming | None = None,
    ) -> None:
        self.timing = timing or BridgeTiming()
        self._clock = clock = self.timing.clock
        self.ws = ws
        self.codec = codec
        self.call = call
        self.room = room
        self.policy = policy or MediaPolicy()
        self.hooks = hooks or BridgeHooks()
        self.counters = counters or CallCounters()
        self.ingress = CallerIngress(
            codec=codec, inbound=inbound, policy=self.policy, counters=self.counters, clock=clock
        )
        self._room_rate_out = outbound.room_rate_hz
        self.playout = AgentPlayout(
            outbound=outbound, policy=self.policy, counters=self.counters, clock=clock
        )
        self.marks = PlaybackMarks(
            every_ms=self.policy.mark_every_ms, counters=self.counters, clock=clock
        )
        self.mouth_to_ear = MouthToEar(frame_ms=self.playout.frame_ms, clock=clock)
        self._caller_ready = asyncio.Event()
        self._frames_ready = asyncio.Event()
        self._send_task: asyncio.Task[None] | None = None
        self._publish_task: asyncio.Task[None] | None = None
        self._end_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._ending = ""
        self._closed = asyncio.Event()
        self._announcing = False
        self.relaying = asyncio.Event()
        """Set once the room is joined and frames are being relayed."""
        self.started_at = clock()
        """Clock reading (s) when the bridge was made."""
        self.recovery = AgentRecovery(tries=self.timing.liveness.agent_tries)
        self.liveness_log: list[tuple[float, str]] = []
        """(clock reading in s, what): ``media_timeout``, ``agent_lost:<why>``,
        ``agent_dispatched:<try>``, ``dispatch_failed``, ``apology_started``,
        ``apology_done``, in order."""

    def wire(self, callbacks: RoomCallbacks) -> None:
        """Point the room's ``callbacks`` (the object the room was made with) at this bridge."""
        callbacks.on_agent_audio = self.on_agent_audio
        callbacks.on_agent_dtmf = self.on_agent_dtmf
        callbacks.on_event = self.on_agent_event
        callbacks.on_agent_state = self.on_agent_state
        callbacks.on_agent_left = self.on_agent_left
        callbacks.on_disconnected = self.on_room_disconnected

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def last_flush_at(self) -> float | None:
        """Clock reading (s) of the last flush, None before the first."""
        return self.playout.last_flush_at

    async def run(self) -> str:
        """Join the room, relay until either side hangs up, tear down. Returns the reason.

        The socket is read from the start: audio that arrives while the room is being
        joined has no listener yet and is counted (``dropped_before_room``) instead of
        piling up in TCP and hitting the real-time budget as a burst; digits are held and
        published once joined; a carrier ``stop`` during the join ends the call at once.
        """
        reason = "carrier_hangup"
        reader = asyncio.ensure_future(self._read_loop())
        self._watch_task = asyncio.ensure_future(self._watch_media())
        try:
            joining = asyncio.ensure_future(self.room.start())
            try:
                await asyncio.wait({reader, joining}, return_when=asyncio.FIRST_COMPLETED)
                if reader.done() and not self._ending:  # the caller hung up during the join:
                    # say so before the join is cancelled, so nothing it triggers (a room
                    # disconnect) ends the call "from our side" with a REST hang-up
                    failed = reader.exception() is not None
                    self._ending = "error" if failed else reader.result()
            finally:
                if not joining.done():  # the caller hung up (or we were cancelled) first
                    joining.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await joining
            if not reader.done():
                joining.result()  # raises the join's error
                held = self.ingress.room_joined()
                self.relaying.set()
                self._send_task = asyncio.ensure_future(self._send_loop())
                self._publish_task = asyncio.ensure_future(self._publish_loop())
                for digit in held:
                    await self._forward_digit(digit)
            reason = await reader
        except (
            TimeoutError,
            OSError,
            ClientError,
            rtc.ConnectError,
            PublishTrackError,  # joined, but the caller's track was not accepted in time
            api.TwirpError,
            StackError,
        ) as exc:
            logger.warning(
                "call bridge failed", extra={"call_id": self.call.call_id, "error": str(exc)}
            )
            reason = "error"
        finally:
            if not reader.done():
                reader.cancel()
                await asyncio.wait({reader}, timeout=self.timing.liveness.teardown_step_s)
            # recorded before teardown: leaving the room must not look like a reason to end
            # the call from our side (a REST hang-up of a call the carrier already ended)
            reason = self._ending = self._ending or reason
            await self._teardown(reason)
        return reason

    async def _read_loop(self) -> str:
        async for msg in self.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):  # ERROR; CLOSE* end it
                error = msg.data
                if isinstance(error, WebSocketError) and error.code == CLOSE_TOO_BIG:
                    self._ending = "policy_frame_too_big"  # aiohttp sent close 1009
                break
            if await self._perform(self.ingress.on_frame(msg.data)):
                return "carrier_stop"
        if self._ending:
            return self._ending
        # a close frame is the carrier hanging up; a connection that died (reset, no pong
        # to our heartbeat: 1006, or no code at all) may leave the call up at the carrier
        return (
            "socket_lost" if self.ws.close_code in (None, _ABNORMAL_CLOSURE) else "carrier_hangup"
        )

    async def _teardown(self, reason: str) -> None:
        step_s = self.timing.liveness.teardown_step_s
        context = {"call_id": self.call.call_id}
        loops = (self._send_task, self._publish_task, self._end_task, self._watch_task)
        try:
            await stop_tasks([*loops, *self._tasks], timeout_s=step_s, context=context)
            if reason == "socket_lost" and self.hooks.hangup is not None:  # make sure it ends
                await teardown_step(
                    "carrier hang-up", self.hooks.hangup(), timeout_s=step_s, context=context
                )
            if not self.ws.closed:
                await teardown_step(
                    "socket close",
                    self.ws.close(code=CLOSE_NORMAL),
                    timeout_s=step_s,
                    context=context,
                )
        finally:  # the room is left and deleted whatever happened above (its steps are bounded)
            try:
                await teardown_step(
                    "room close", self.room.aclose(), timeout_s=None, context=context
                )
            finally:
                self._closed.set()
                logger.info(
                    "call ended",
                    extra={
                        "call_id": self.call.call_id,
                        "reason": reason,
                        **self.counters.as_dict(),
                    },
                )
                call_hook("on_closed", lambda: self.hooks.on_closed(reason), context=context)

    async def end(self, reason: str) -> None:
        """End the call from our side: carrier hang-up (REST if configured), close the socket.

        Returns once the bridge has torn down; a second call only waits for that. Each
        step is bounded by ``teardown_step_s``; a failed hang-up is logged and the socket
        is closed anyway."""
        if self._ending:
            await self._closed.wait()
            return
        self._ending = reason
        step_s = self.timing.liveness.teardown_step_s
        context = {"call_id": self.call.call_id}
        if self.hooks.hangup is not None:
            await teardown_step(
                "carrier hang-up", self.hooks.hangup(), timeout_s=step_s, context=context
            )
        if not self.ws.closed:
            await teardown_step(
                "socket close", self.ws.close(code=CLOSE_NORMAL), timeout_s=step_s, context=context
            )
        await self._closed.wait()

    async def hand_off(self, reason: str, transfer: Callable[[], Awaitable[None]]) -> None:
        """Hand the call over at the carrier (a cold transfer): ``transfer`` runs with the
        end reason already ``reason`` (the stream the carrier then stops ends with it, and
        no REST hang-up follows); once it succeeded our socket is closed without a
        hang-up. If ``transfer`` raises, the call goes on as before."""
        if self._ending:
            raise SessionClosedError(f"call {self.call.call_id!r} is ending")
        self._ending = reason
        try:
            await transfer()
        except BaseException:
            if not self.closed:
                self._ending = ""
            raise
        if not self.ws.closed:
            await teardown_step(
                "socket close",
                self.ws.close(code=CLOSE_NORMAL),
                timeout_s=self.timing.liveness.teardown_step_s,
                context={"call_id": self.call.call_id},
            )
        await self._closed.wait()

    def _end_soon(self, reason: str) -> None:
        if self._end_task is None and not self._ending:
            self._end_task = asyncio.ensure_future(self.end(reason))

    # ------------------------------------------------------------------ caller -> room

    async def _perform(self, decision: IngressDecision) -> bool:
        """Carry out one ingress decision; True when the carrier said the stream stopped."""
        match decision:
            case Relay():
                self._caller_ready.set()
            case ForwardDigit():
                self._log_caller_digit(decision.digit)
                await self._forward_digit(decision)
            case MarkEcho():
                self.marks.on_echo(decision.name)
                if (ms := self.mouth_to_ear.on_echo(decision.name)) is not None:
                    self.spawn(self._report_mouth_to_ear(ms))
            case StopStream():
                return True
            case PolicyClose():
                self._ending = self._ending or decision.reason
                await self.ws.close(code=decision.code, message=decision.message)
            case CarrierError():
                logger.warning(
                    "carrier stream error",
                    extra={
                        "call_id": self.call.call_id,
                        "code": decision.code,
                        "title": decision.title,
                    },
                )
            case HoldDigit():  # forwarded once the room is joined
                self._log_caller_digit(decision.digit)
            case Drop() | Ignored():  # counted by the ingress where it counts
                pass
        return False

    def _log_caller_digit(self, digit: str) -> None:
        logger.info(
            "caller dtmf",
            extra={"call_id": self.call.call_id, "omnivoice.pii.digit": digit},
        )

    async def _forward_digit(self, decision: ForwardDigit) -> None:
        try:
            await self.room.send_dtmf(decision.digit)
        except ValueError:  # the room refused the digit
            self.counters.dropped_invalid += 1

    async def _publish_loop(self) -> None:
        """Caller audio -> room. Never blocks the socket reader: a publisher slower
        than the carrier loses the oldest audio instead of adding delay."""
        while True:
            await self._caller_ready.wait()
            self._caller_ready.clear()
            while (pcm := self.ingress.pop_caller_audio()) is not None:
                self.mouth_to_ear.on_caller_audio(pcm)
                await self.room.push_caller_audio(pcm)

    def on_room_disconnected(self) -> None:
        self._end_soon("room_disconnected")

    def spawn(self, coro: Coroutine[None, None, None]) -> None:
        """Run ``coro`` as a task the bridge owns (cancelled at teardown); closed: dropped."""
        if self.closed:
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
