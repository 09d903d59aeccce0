"""CallBridge: where a carrier media frame becomes room audio, and agent audio goes back.

One :class:`CallBridge` joins one carrier media WebSocket (already opened and
authenticated by :mod:`omnivoice_rtc.shim.handshake`) to one :class:`CallRoom`:

* caller -> room: ``ws frame -> codec.parse -> Media -> InboundAudio.convert ->
  CallRoom.push_caller_audio`` (in :meth:`CallBridge._on_frame`), behind the
  :class:`RealTimeBudget` so a stream faster than real time is cut, not queued;
* agent -> caller: ``CallRoom`` agent frame -> :meth:`_on_agent_audio` -> carrier frames
  into a bounded drop-oldest queue -> :meth:`_send_loop` writes them as they come (the
  carrier buffers; no fixed-clock pacer that could fall behind);
* DTMF both ways, interruption -> the carrier's flush, playback markers, teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Final

from aiohttp import WebSocketError, WSMsgType, web
from livekit import api, rtc

from omnivoice_rtc._errors import FrameSizeError
from omnivoice_rtc.audio.dtmf import dtmf_tone
from omnivoice_rtc.media_streams.messages import (
    Clear,
    Cleared,
    Connected,
    Dtmf,
    Error,
    Mark,
    Media,
    MediaStreamCodec,
    SendMark,
    SendMedia,
    Start,
    Stop,
)
from omnivoice_rtc.shim.audio_path import FRAME_MS, InboundAudio, OutboundAudio
from omnivoice_rtc.shim.call_room import CallRoomBase
from omnivoice_rtc.shim.policy import (
    CLOSE_INVALID_DATA,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CallCounters,
    MediaPolicy,
    RealTimeBudget,
)
from omnivoice_rtc.types import CallInfo, Event, EventType

__all__ = ["BridgeHooks", "CallBridge"]

_STALE_AFTER_FLUSH_S: Final = 1.0
"""After a flush, agent audio is treated as the interrupted speech's tail for this long (s)
unless the agent starts speaking again."""
_MAX_DIGITS_BEFORE_ROOM: Final = 16
"""Caller digits held while the room is being joined (more are dropped: nobody is there)."""

logger = logging.getLogger(__name__)


class BridgeHooks:
    """Optional callbacks from a bridge to its session / gateway."""

    __slots__ = ("hangup", "on_closed", "on_event")

    def __init__(
        self,
        *,
        on_event: Callable[[Event], None] | None = None,
        hangup: Callable[[], Awaitable[None]] | None = None,
        on_closed: Callable[[str], None] | None = None,
    ) -> None:
        self.on_event = on_event or (lambda event: None)
        """Every event: the agent's ``omnivoice.events`` plus the shim's own."""
        self.hangup = hangup
        """Ends the call at the carrier (REST); None = closing the socket is the hang-up."""
        self.on_closed = on_closed or (lambda reason: None)
        """Called once when the bridge has torn down, with the reason."""


class CallBridge:
    """One carrier media stream <-> one room participant (see module doc).

    ``codec`` is bound to the stream (``for_start``/``for_connected``), ``opening`` is
    the ``Start`` (or Vonage ``Connected``) that carried the token, ``room`` is not yet
    started. :meth:`run` returns when the call is over and everything is released.
    """

    def __init__(
        self,
        *,
        ws: web.WebSocketResponse,
        codec: MediaStreamCodec,
        call: CallInfo,
        inbound: InboundAudio,
        outbound: OutboundAudio,
        room: CallRoomBase,
        policy: MediaPolicy | None = None,
        hooks: BridgeHooks | None = None,
        counters: CallCounters | None = None,
    ) -> None:
        self.ws = ws
        self.codec = codec
        self.call = call
        self.room = room
        self.policy = policy or MediaPolicy()
        self.hooks = hooks or BridgeHooks()
        self.counters = counters or CallCounters()
        self._in = inbound
        self._out = outbound
        self._budget = RealTimeBudget(burst_ms=self.policy.burst_ms)
        max_frames = max(1, self.policy.outbound_queue_ms // FRAME_MS)
        self._queue: deque[bytes] = deque(maxlen=max_frames)
        self._queue_ready = asyncio.Event()
        self._send_task: asyncio.Task[None] | None = None
        self._publish_task: asyncio.Task[None] | None = None
        self._caller_queue: deque[bytes] = deque(
            maxlen=max(1, self.policy.inbound_queue_ms // FRAME_MS)
        )
        self._caller_ready = asyncio.Event()
        self._end_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._since_mark_ms = 0
        self._marks: dict[str, float] = {}  # mark name -> monotonic send time
        self._mark_seq = 0
        self._last_in = 0.0
        self._digits_before_room: list[str] = []
        self._ending = ""
        self._closed = asyncio.Event()
        self.relaying = asyncio.Event()
        """Set once the room is joined and frames are being relayed."""
        self.started_at = time.monotonic()
        self.last_flush_at: float | None = None
        self._user_spoke_over_agent = False
        self._frames_out_at_flush = 0
        self._stale_until = 0.0

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def run(self) -> str:
        """Join the room, relay until either side hangs up, tear down. Returns the reason.

        The socket is read from the start: audio that arrives while the room is being
        joined has no listener yet and is counted (``dropped_before_room``) instead of
        piling up in TCP and hitting the real-time budget as a burst; digits are held and
        published once joined; a carrier ``stop`` during the join ends the call at once.
        """
        reason = "carrier_hangup"
        reader = asyncio.ensure_future(self._read_loop())
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
                self._budget = RealTimeBudget(burst_ms=self.policy.burst_ms)
                self.relaying.set()
                self._send_task = asyncio.ensure_future(self._send_loop())
                self._publish_task = asyncio.ensure_future(self._publish_loop())
                for digit in self._digits_before_room:
                    await self._send_caller_dtmf(digit)
                self._digits_before_room.clear()
            reason = await reader
        except (TimeoutError, OSError, rtc.ConnectError, api.TwirpError) as exc:
            logger.warning(
                "call bridge failed", extra={"call_id": self.call.call_id, "error": str(exc)}
            )
            reason = "error"
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
            # recorded before teardown: leaving the room must not look like a reason to end
            # the call from our side (a REST hang-up of a call the carrier already ended)
            reason = self._ending = self._ending or reason
            await self._teardown(reason)
        return reason

    async def _read_loop(self) -> str:
        async for msg in self.ws:
            if msg.type == WSMsgType.TEXT:
                frame: str | bytes = msg.data
            elif msg.type == WSMsgType.BINARY:
                frame = msg.data
            else:  # ERROR; CLOSE* end the iteration
                error = msg.data
                if isinstance(error, WebSocketError) and error.code == CLOSE_TOO_BIG:
                    self._ending = "policy_frame_too_big"  # aiohttp sent close 1009
                break
            if await self._on_frame(frame):
                return "carrier_stop"
        return self._ending or "carrier_hangup"

    async def _teardown(self, reason: str) -> None:
        for task in (self._send_task, self._publish_task, self._end_task, *self._tasks):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self.ws.closed:
            await self.ws.close(code=CLOSE_NORMAL)
        await self.room.aclose()
        self._closed.set()
        logger.info(
            "call ended",
            extra={"call_id": self.call.call_id, "reason": reason, **self.counters.as_dict()},
        )
        self.hooks.on_closed(reason)

    async def end(self, reason: str) -> None:
        """End the call from our side: carrier hang-up (REST if configured), close the socket."""
        if self._ending:
            await self._closed.wait()
            return
        self._ending = reason
        if self.hooks.hangup is not None:
            try:
                await self.hooks.hangup()
            except Exception as exc:  # noqa: BLE001  # reason: REST failure must not keep the call open; logged, socket close follows
                logger.warning(
                    "carrier hangup failed",
                    extra={"call_id": self.call.call_id, "error": repr(exc)},
                )
        if not self.ws.closed:
            await self.ws.close(code=CLOSE_NORMAL)
        await self._closed.wait()

    def _end_soon(self, reason: str) -> None:
        if self._end_task is None and not self._ending:
            self._end_task = asyncio.ensure_future(self.end(reason))

    # ------------------------------------------------------------------ caller -> room

    async def _on_frame(self, frame: str | bytes) -> bool:
        """Handle one carrier frame; True when the carrier said the stream stopped."""
        try:
            message = self.codec.parse(frame)
        except ValueError as exc:
            return await self._bad_frame(frame, exc)
        match message:
            case Media():
                await self._on_media(message.payload)
            case Dtmf():
                self.counters.dtmf_in += 1
                logger.info(
                    "caller dtmf", extra={"call_id": self.call.call_id, "digit": message.digit}
                )
                if self.relaying.is_set():
                    await self._send_caller_dtmf(message.digit)
                elif len(self._digits_before_room) < _MAX_DIGITS_BEFORE_ROOM:
                    self._digits_before_room.append(message.digit)
            case Mark():
                if self._marks.pop(message.name, None) is not None:
                    self.counters.marks_acked += 1
            case Stop():
                return True
            case Start() | Connected():
                await self.ws.close(code=CLOSE_POLICY, message=b"second start")
                self._ending = "policy_second_start"
            case Cleared():
                pass
            case Error():
                logger.warning(
                    "carrier stream error",
                    extra={
                        "call_id": self.call.call_id,
                        "code": message.code,
                        "title": message.title,
                    },
                )
        return False

    async def _send_caller_dtmf(self, digit: str) -> None:
        try:
            await self.room.send_dtmf(digit)
        except ValueError:
            self.counters.dropped_invalid += 1

    async def _bad_frame(self, frame: str | bytes, exc: ValueError) -> bool:
        if isinstance(exc, FrameSizeError):
            self.counters.dropped_wrong_size += 1
            return False
        self.counters.dropped_invalid += 1
        if self.counters.dropped_invalid >= self.policy.max_invalid_frames:
            self._ending = "policy_invalid_frames"
            await self.ws.close(code=CLOSE_INVALID_DATA, message=b"too many invalid frames")
        return False

    async def _on_media(self, payload: bytes) -> None:
        if not payload or not self._in.is_whole_samples(payload):
            self.counters.dropped_wrong_size += 1
            return
        if not self.relaying.is_set():
            self.counters.dropped_before_room += 1
            return
        ms = self._in.ms_of(payload)
        if not self._budget.take(ms):
            self.counters.dropped_too_fast += 1
            return
        now = time.monotonic()
        if self._last_in and (now - self._last_in) * 1000.0 > self.policy.late_gap_ms:
            self.counters.frames_late += 1
        self._last_in = now
        self.counters.frames_in += 1
        self.counters.bytes_in += len(payload)
        if len(self._caller_queue) == self._caller_queue.maxlen:
            self.counters.dropped_backlog += 1  # the deque drops the oldest frame
        self._caller_queue.append(self._in.convert(payload))
        self._caller_ready.set()

    async def _publish_loop(self) -> None:
        """Caller audio -> room. Never blocks the socket reader: a publisher slower
        than the carrier loses the oldest audio instead of adding delay."""
        while True:
            await self._caller_ready.wait()
            self._caller_ready.clear()
            while self._caller_queue:
                await self.room.push_caller_audio(self._caller_queue.popleft())

    # ------------------------------------------------------------------ room -> caller

    def on_agent_audio(self, pcm: bytes) -> None:
        """CallRoom callback: one agent frame (PCM16) -> carrier frames in the queue.

        Right after a barge-in flush, audio still in flight from the interrupted speech
        is dropped (until the agent speaks again, at most ``_STALE_AFTER_FLUSH_S``).
        """
        if self._stale_until and time.monotonic() < self._stale_until:
            self.counters.dropped_outbound += 1
            return
        for frame in self._out.convert(pcm):
            if len(self._queue) == self._queue.maxlen:
                self.counters.dropped_outbound += 1  # deque drops the oldest
            self._queue.append(frame)
        if self._queue:
            self._queue_ready.set()

    async def _send_loop(self) -> None:
        while True:
            await self._queue_ready.wait()
            self._queue_ready.clear()
            while self._queue:
                payload = self._queue.popleft()
                await self._send(self.codec.serialize(SendMedia(payload=payload)))
                self.counters.frames_out += 1
                self.counters.bytes_out += len(payload)
                self._since_mark_ms += FRAME_MS
                if self._since_mark_ms >= self.policy.mark_every_ms:
                    await self._send_mark()

    async def _send_mark(self) -> None:
        self._since_mark_ms = 0
        self._mark_seq += 1
        name = f"ov-{self._mark_seq}"
        self._marks[name] = time.monotonic()
        if len(self._marks) > 64:  # carrier never echoes: keep the map bounded
            self._marks.pop(next(iter(self._marks)))
        await self._send(self.codec.serialize(SendMark(name=name)))
        self.counters.marks_sent += 1

    async def _send(self, data: str | bytes) -> None:
        if self.ws.closed:
            return
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def flush(self, reason: str) -> None:
        """Barge-in: drop queued agent audio here and at the carrier (clear/clearAudio)."""
        self._stale_until = time.monotonic() + _STALE_AFTER_FLUSH_S
        self._queue.clear()
        self._out.reset()
        self._since_mark_ms = 0
        self.counters.flushes += 1
        self.last_flush_at = time.monotonic()
        logger.info("carrier flush", extra={"call_id": self.call.call_id, "reason": reason})
        await self._send(self.codec.serialize(Clear()))

    def on_agent_event(self, event: Event) -> None:
        """CallRoom callback: an ``omnivoice.events`` event from the agent.

        ``user_speech_start`` while the agent speaks marks a possible barge-in (see
        :meth:`on_agent_state`); ``interruption`` flushes unless that already happened.
        """
        if event.type is EventType.USER_SPEECH_START:
            self._user_spoke_over_agent = self.room.agent_state == "speaking"
        elif event.type is EventType.INTERRUPTION:
            self._flush_once("interruption")
        self.hooks.on_event(event)

    def on_agent_state(self, old: str, new: str) -> None:
        """CallRoom callback: the agent stopped speaking because the caller talked over it
        -> flush what the carrier still buffers (the ``interruption`` event comes later)."""
        if new == "speaking":
            self._user_spoke_over_agent = False
            self._stale_until = 0.0
        elif old == "speaking" and self._user_spoke_over_agent:
            self._flush_once("agent_interrupted")

    def _flush_once(self, reason: str) -> None:
        """Flush unless nothing was sent since the last flush (one barge-in, one clear)."""
        if self.closed or self.counters.frames_out == self._frames_out_at_flush:
            return
        self._frames_out_at_flush = self.counters.frames_out
        self.spawn(self.flush(reason))

    def on_agent_dtmf(self, digit: str) -> None:
        """CallRoom callback: the agent keyed a digit for the caller's line. None of the four
        media-stream protocols has a message for it, so it goes in-band: the digit's tone
        pair (100 ms, then 60 ms of silence) joins the outbound audio, after what is queued."""
        try:
            tone = dtmf_tone(digit, sample_rate_hz=self._out.room_rate_hz)
        except ValueError:
            logger.warning("agent dtmf digit not playable", extra={"digit": digit})
            return
        self.counters.dtmf_out += 1
        logger.info(
            "agent dtmf sent in-band",
            extra={"call_id": self.call.call_id, "carrier": self.codec.carrier, "digit": digit},
        )
        self._stale_until = 0.0  # the agent is talking to the line again
        self.on_agent_audio(tone)

    def on_agent_left(self) -> None:
        self._end_soon("agent_left")

    def on_room_disconnected(self) -> None:
        self._end_soon("room_disconnected")

    def spawn(self, coro: Coroutine[None, None, None]) -> None:
        if self.closed:
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
