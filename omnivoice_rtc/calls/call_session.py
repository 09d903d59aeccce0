"""CallSession: the Go ``Session`` of a phone call whose conversation runs in a room.

Every phone call, whether it arrived over a carrier media stream (the shim) or a SIP
trunk (livekit-sip), is a participant in a LiveKit room where the agent worker runs
its ``LiveKitSession``. The process that controls the call does not hold that
session object; it sees it through the room:

* events arrive on the ``omnivoice.events`` data topic (``event_relay``) and are fed
  to :meth:`CallSession.on_event`; transcript and metrics are built from them by a
  :class:`~omnivoice_rtc.conversation.ConversationStats` (a turn per final transcript
  event; speech time, interruptions, errors and tool calls counted from the events;
  audio bytes from the route), and replaced by the agent's own final report in
  ``session_ended``;
* commands go back on ``omnivoice.control`` (``control``): ``send_text`` → ``say``,
  ``interrupt`` → ``interrupt``;
* when the call's agent died and a fresh one took over (:meth:`CallSession.agent_replaced`),
  the transcript is this side's (turns from every agent, in order) and an agent's final
  report supplies the metrics only.

This base owns that bookkeeping and the task that carries fire-and-forget commands;
a route implements two hooks: how a command reaches the room and how to hang up.

Call control (:mod:`omnivoice_rtc.calls.control`): every session is a
:class:`~omnivoice_rtc.calls.control.CallControl`. The base checks ``capabilities`` and
the input, has the agent say the transfer line (``speak`` on ``omnivoice.control``, then
waits for its ``agent_speech_end``, at most :func:`speak_timeout_s`), puts the agent on
hold (``hold``/``resume`` on ``omnivoice.control``: the agent plays hold audio and stops
listening) and records a hang-up's reason as the end reason; a route implements
``_capabilities``, ``_transfer`` and ``_send_dtmf``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.calls.control import (
    DEFAULT_HANGUP_REASON,
    DEFAULT_TRANSFER_LINE,
    CallAction,
    Capabilities,
    TransferTarget,
    check_digits,
    check_reason,
    parse_transfer_target,
)
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.livekit.data_topics import ControlCommand
from omnivoice_rtc.logs import pii
from omnivoice_rtc.types import (
    AgentTranscript,
    CallInfo,
    Event,
    EventType,
    Metrics,
    SessionEnded,
    Turn,
    UserTranscript,
)

__all__ = ["CallSession", "speak_timeout_s"]

logger = logging.getLogger(__name__)

EVENT_BUFFER: Final = 1024
"""Events kept per ``events()`` subscriber before the oldest are dropped."""


def speak_timeout_s(text: str) -> float:
    """Longest wait (s) for the agent to say ``text`` before a transfer goes ahead anyway:
    3 s plus 0.1 s a character (speech runs ~0.07 s a character)."""
    return 3.0 + 0.1 * len(text)


class CallSession(ABC):
    """A phone call observed through its room (implements ``types.Session``)."""

    def __init__(self, *, call: CallInfo) -> None:
        self._call = call
        self._events: list[Event] = []
        self._subscribers: set[asyncio.Queue[Event | None]] = set()
        self._stats = ConversationStats(started_at=call.start_time.timestamp())
        self._final_report: SessionEnded | None = None
        self._ended_at: datetime | None = None
        self._closed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._speech_end_waiters: set[asyncio.Future[None]] = set()
        self.end_reason = ""
        self.agents_replaced = 0
        """Fresh agents that took over this call after its agent died."""

    # ------------------------------------------------------------------ route hooks

    @abstractmethod
    async def _send_control(self, command: ControlCommand) -> None:
        """Publish ``command`` on the room's ``omnivoice.control`` topic."""

    @abstractmethod
    async def _hangup(self) -> None:
        """End the call on the carrier / SIP side (the room follows)."""

    def _on_interrupt(self) -> None:  # noqa: B027 - reason: optional hook, default does nothing
        """Route-specific part of :meth:`interrupt` (e.g. flush the carrier's buffer)."""

    def _capabilities(self) -> Capabilities:
        """The route's call-control capabilities (default: none supported)."""
        return Capabilities.of(
            self._call.carrier or "unknown",
            {a.value: "this session has no call control" for a in CallAction},
        )

    async def _transfer(self, target: TransferTarget) -> None:
        """Route hook of :meth:`transfer` (capability already checked)."""
        raise NotImplementedError

    async def _send_dtmf(self, digits: str) -> None:
        """Route hook of :meth:`send_dtmf` (digits already checked)."""
        raise NotImplementedError

    def _audio_bytes(self) -> tuple[int, int]:
        """Caller audio bytes (received, sent) counted by the route, for local metrics."""
        return 0, 0

    def _rebind(self, call_id: str) -> None:
        """Adopt the carrier's real call id once it is known (a dial that first returned a
        request id); the rest of the call record stays."""
        self._call = dataclasses.replace(self._call, call_id=call_id)

    # ------------------------------------------------------------------ Session protocol

    @property
    def id(self) -> str:
        return self._call.call_id

    @property
    def call(self) -> CallInfo:
        return self._call

    @property
    def from_(self) -> str:
        return self._call.from_

    @property
    def to(self) -> str:
        return self._call.to

    @property
    def direction(self) -> str:
        return self._call.direction

    @property
    def start_time(self) -> datetime:
        return self._call.start_time

    @property
    def duration(self) -> timedelta:
        return (self._ended_at or datetime.now(UTC)) - self._call.start_time

    @property
    def closed(self) -> bool:
        return self._ended_at is not None

    async def wait_closed(self) -> str:
        """Wait until the call ended; returns the end reason."""
        await self._closed.wait()
        return self.end_reason

    def events(self) -> AsyncIterator[Event]:
        """Events seen so far (up to 1024) and from now on, until the call ends."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=EVENT_BUFFER)
        for event in self._events[-EVENT_BUFFER:]:
            queue.put_nowait(event)
        if self.closed:
            self._offer(queue, None)
        else:
            self._subscribers.add(queue)
        return self._drain(queue)

    async def _drain(self, queue: asyncio.Queue[Event | None]) -> AsyncIterator[Event]:
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._subscribers.discard(queue)

    def transcript(self) -> list[Turn]:
        """The agent's final transcript once reported; until then, or when more than one
        agent served the call, the final transcript events seen so far."""
        if self._final_report is not None and not self.agents_replaced:
            return list(self._final_report.transcript)
        return self._stats.transcript()

    def agent_replaced(self) -> None:
        """A fresh agent took over the call (its agent died): the conversation goes on,
        one transcript across agents (see the module docstring)."""
        self.agents_replaced += 1

    def metrics(self) -> Metrics:
        """The agent's final metrics once reported; until then, what this side counted."""
        if self._final_report is not None:
            return self._final_report.metrics
        self._stats.audio_bytes_received, self._stats.audio_bytes_sent = self._audio_bytes()
        return self._stats.metrics()

    async def send_text(self, text: str) -> None:
        """A user turn from text, bypassing STT; the agent answers it by voice."""
        self._require_open()
        await self._send_control(ControlCommand(type="say", text=text))

    def interrupt(self) -> None:
        """Stop the agent's current speech (route hook, then ``interrupt`` to the agent)."""
        self._require_open()
        self._on_interrupt()
        self.spawn(self._send_control(ControlCommand(type="interrupt")))

    async def close(self) -> None:
        """Hang up. Idempotent."""
        if self.closed:
            return
        await self._hangup()

    # ------------------------------------------------------------------ call control

    @property
    def capabilities(self) -> Capabilities:
        """Which call-control actions this call's route supports (docs/calls.md)."""
        return self._capabilities()

    def _require_action(self, action: CallAction) -> None:
        self._require_open()
        self.capabilities.require(action)

    async def transfer(self, to: str, *, say: str | None = None) -> None:
        """Cold-transfer the call to ``to`` (E.164 or SIP URI; ValueError otherwise) after
        the agent says ``say`` (None: the default line; "": nothing); the call ends with
        reason ``transferred``. UnsupportedActionError when the route cannot."""
        self._require_action(CallAction.TRANSFER)
        target = parse_transfer_target(to)
        line = DEFAULT_TRANSFER_LINE if say is None else say.strip()
        if line:
            await self.speak(line)
        logger.info(
            "transferring the call",
            extra={"call_id": self.id, "kind": target.kind, **pii(to=target.value)},
        )
        await self._transfer(target)

    async def warm_transfer(self, to: str, summary: str) -> bool:
        """Have the call's agent warm-transfer the caller to ``to`` (E.164 or SIP URI)
        after briefing them with ``summary``: True connected, False not answered.
        UnsupportedActionError where the route cannot (carrier streams: the reason is in
        :attr:`capabilities`); ValueError for a bad target or an empty summary."""
        self._require_action(CallAction.WARM_TRANSFER)
        target = parse_transfer_target(to)
        if not summary.strip():
            raise ValueError("warm transfer: summary must not be empty")
        return await self._warm_transfer(target, summary)

    async def _warm_transfer(self, target: TransferTarget, summary: str) -> bool:
        """Route hook of :meth:`warm_transfer` (capability already checked)."""
        raise NotImplementedError

    async def speak(self, text: str) -> None:
        """Have the agent say ``text`` verbatim and wait until it has (its
        ``agent_speech_end``), at most :func:`speak_timeout_s`."""
        self._require_open()
        spoken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._speech_end_waiters.add(spoken)
        try:
            await self._send_control(ControlCommand(type="speak", text=text))
            async with asyncio.timeout(speak_timeout_s(text)):
                await spoken
        except TimeoutError:
            logger.warning("agent line not confirmed; going on", extra={"call_id": self.id})
        finally:
            self._speech_end_waiters.discard(spoken)

    async def hold(self) -> None:
        """Put the caller on hold: the agent plays hold audio and stops listening and
        speaking until :meth:`resume`."""
        self._require_action(CallAction.HOLD)
        await self._send_control(ControlCommand(type="hold"))

    async def resume(self) -> None:
        """Take the caller off hold (the agent listens and speaks again)."""
        self._require_action(CallAction.RESUME)
        await self._send_control(ControlCommand(type="resume"))

    async def send_dtmf(self, digits: str) -> None:
        """Send ``digits`` (0-9 * # A-D) to the line (SIP: RFC 4733; carriers: in-band)."""
        self._require_action(CallAction.DTMF)
        await self._send_dtmf(check_digits(digits))

    async def hangup(self, reason: str = DEFAULT_HANGUP_REASON) -> None:
        """End the call; ``reason`` (letters, digits, ``_ . : -``) is its end reason."""
        check_reason(reason)
        if self.closed:
            return
        self.capabilities.require(CallAction.HANGUP)
        self.end_reason = self.end_reason or reason
        await self._hangup()

    def _require_open(self) -> None:
        if self.closed:
            raise SessionClosedError(f"session {self.id!r} is closed")

    def spawn(self, coro: Any) -> None:
        """Run a fire-and-forget command; owned here and cancelled by :meth:`mark_closed`."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    # ------------------------------------------------------------------ feeding

    def on_event(self, event: Event) -> None:
        """Record an agent event and fan it out to every ``events()`` iterator."""
        self._stats.on_event(event)
        data = event.data
        if isinstance(data, UserTranscript) and data.final and data.text:
            self._stats.add_user_turn(data.text, timestamp=event.timestamp)
        elif isinstance(data, AgentTranscript) and data.text:
            self._stats.add_agent_turn(data.text, timestamp=event.timestamp)
        elif isinstance(data, SessionEnded):
            self._final_report = data
        elif event.type is EventType.SESSION_ENDED and event.data is not None:
            logger.warning(
                "session_ended without the agent's report shape; keeping local counts",
                extra={"call_id": self.id},
            )
        if event.type is EventType.AGENT_SPEECH_END:
            for waiter in list(self._speech_end_waiters):
                if not waiter.done():
                    waiter.set_result(None)
        self._events.append(event)
        if len(self._events) > 4 * EVENT_BUFFER:
            del self._events[:EVENT_BUFFER]
        for queue in list(self._subscribers):
            self._offer(queue, event)

    def mark_closed(self, reason: str) -> None:
        """The call ended: record why, end every ``events()`` iterator, cancel commands."""
        if self._ended_at is not None:
            return
        self.end_reason = reason
        self._ended_at = datetime.now(UTC)
        self._stats.close(self._ended_at.timestamp())
        self._closed.set()
        for queue in list(self._subscribers):
            self._offer(queue, None)
        self._subscribers.clear()
        for task in list(self._tasks):
            task.cancel()

    @staticmethod
    def _offer(queue: asyncio.Queue[Event | None], item: Event | None) -> None:
        if queue.full():
            queue.get_nowait()  # drop the oldest for a slow reader
        queue.put_nowait(item)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("control message not sent", extra={"error": str(task.exception())})
