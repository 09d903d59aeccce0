"""What every call room has, whichever participant carries the media.

:class:`CallRoomBase` creates the room with our agent dispatched and deletes it again
(through the process's shared :class:`~omnivoice_rtc.livekit.rooms.RoomControl`), mints the
caller's token (:func:`~omnivoice_rtc.livekit.tokens.caller_token`), and tracks the agent
(identity, ``lk.agent.state``, DTMF, events, leaving) from plain identities and attributes.
Two subclasses carry the media:
:class:`~omnivoice_rtc.shim.rtc_call_room.CallRoom` (livekit rtc in this process) and
:class:`~omnivoice_rtc.shim.native_call_room.NativeCallRoom` (the ``omnivoice-media`` process).

Agent liveness (:mod:`omnivoice_rtc.calls.liveness`): the agent counts as gone when it
leaves, never joins within ``agent_join_timeout_s``, or stops answering
(:meth:`CallRoomBase._agent_answers`, asked every ``liveness.agent_ping_s``);
``on_agent_left`` reports it and :attr:`CallRoomBase.agent_departure` says which.
:meth:`CallRoomBase.replace_agent` removes a dead agent's lingering participant and
dispatches a fresh one with the transcript so far. Every step of :meth:`aclose` runs
whatever the others did, each bounded by ``liveness.teardown_step_s``.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Final, Literal

import aiohttp
from livekit import api

from omnivoice_rtc.calls.agent_tracker import (
    AGENT_STATE_ATTRIBUTE,
    AgentDeparture,
    AgentLink,
    AgentTracker,
)
from omnivoice_rtc.calls.teardown import stop_tasks, teardown_step
from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, decode_event_packet
from omnivoice_rtc.livekit.names import call_participant_identity, call_room_name
from omnivoice_rtc.livekit.rooms import RoomControl, RoomControlLease, lease_room_control
from omnivoice_rtc.livekit.tokens import caller_token
from omnivoice_rtc.settings import CallSettings, LiveKitSettings
from omnivoice_rtc.types import Event, EventType

__all__ = [
    "AGENT_REPORT_WAIT_S",
    "AGENT_STATE_ATTRIBUTE",
    "EVENTS_TOPIC",
    "AgentDeparture",
    "CallRoomBase",
    "CallRoomSpec",
    "RoomAudioOptions",
    "RoomCallbacks",
    "call_participant_identity",
    "call_room_name",
    "dtmf_code",
]

logger = logging.getLogger(__name__)


_DTMF_CODES: Final[dict[str, int]] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
}


def dtmf_code(digit: str) -> int:
    """RFC 4733 event code of a DTMF digit (``0``-``9``, ``*``, ``#``, ``A``-``D``)."""
    try:
        return _DTMF_CODES[digit.upper()]
    except KeyError:
        raise ValueError(f"invalid DTMF digit {digit!r}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomAudioOptions:
    """Audio rates (Hz) and sizes at the room boundary."""

    publish_rate_hz: int = 8000
    """Rate of the caller's audio as published (the carrier's rate avoids a second resampler)."""
    subscribe_rate_hz: int = 8000
    """Rate the agent's audio is delivered at (livekit rtc resamples from 48 kHz)."""
    frame_ms: int = 20
    """Agent audio frame size delivered to the callback (ms)."""
    source_queue_ms: int = 0
    """livekit AudioSource queue (ms). 0 = direct capture (10 ms frames straight to WebRTC).
    A queue is a fixed-clock pacer: once a backlog forms (e.g. audio arriving before the
    track is sending) it never drains; measured +120 ms p50 for 100 ms (docs/benchmarks.md)."""


@dataclass(slots=True, kw_only=True)
class RoomCallbacks:
    """What the room tells its owner. All are called on the event loop; keep them quick."""

    on_agent_audio: Callable[[bytes], None] = lambda pcm: None
    """One frame of the agent's audio, PCM16 at ``subscribe_rate_hz``."""
    on_agent_dtmf: Callable[[str], None] = lambda digit: None
    """The agent sent a DTMF digit (``publish_dtmf``) for the caller's line."""
    on_event: Callable[[Event], None] = lambda event: None
    """An ``omnivoice.events`` event from the agent."""
    on_agent_state: Callable[[str, str], None] = lambda old, new: None
    """``lk.agent.state`` changed (old, new)."""
    on_agent_left: Callable[[], None] = lambda: None
    """The agent is gone: it left the room, never joined in time, or stopped answering
    (:attr:`CallRoomBase.agent_departure` says which)."""
    on_disconnected: Callable[[], None] = lambda: None
    """Our own connection to the room ended."""
    on_call_control: Callable[[str, bytes], None] = lambda sender, payload: None
    """An ``omnivoice.call_control`` packet (sender identity, payload) for this call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRoomSpec:
    """Which room, who joins it as the caller, and which agent is dispatched into it."""

    livekit: LiveKitSettings
    room_name: str
    identity: str
    attributes: dict[str, str]
    """The caller participant's attributes (carrier, call_id, from, to, direction)."""
    agent_name: str
    audio: RoomAudioOptions = field(default_factory=RoomAudioOptions)
    participant_kind: Literal["sip", "standard"] = "sip"
    agent_join_timeout_s: float = 20.0
    """How long the agent has to join before ``on_agent_left`` (s)."""
    liveness: CallSettings = field(default_factory=CallSettings)
    """Agent pings, how long a fresh agent has to join, teardown step bound."""


_EMPTY_TIMEOUT_S: Final = 30
"""A call room nobody joined is removed by livekit-server after this long (s)."""
_DEPARTURE_TIMEOUT_S: Final = 5
"""A call room everyone left is removed by livekit-server after this long (s)."""


AGENT_REPORT_WAIT_S: Final = 3.0
"""Longest wait (s), after our caller left, for the agent's final report before the room is
deleted; only when someone besides the agent is still in the room."""
_REPORT_POLL_S: Final = 0.2
"""How often (s) the room's participants are listed during that wait."""


class CallRoomBase(abc.ABC):
    """One call's room: created with our agent dispatched, joined as the caller.

    Lifecycle: ``await start()`` (creates the room, dispatches the agent, connects,
    publishes the caller track), then ``push_caller_audio`` per frame, then
    ``await aclose()`` (leaves and deletes the room; idempotent).
    """

    def __init__(self, *, spec: CallRoomSpec, callbacks: RoomCallbacks | None = None) -> None:
        self.spec = spec
        self.room_name = spec.room_name
        self.identity = spec.identity
        self.audio = spec.audio
        self._cb = callbacks or RoomCallbacks()
        self.agents = AgentTracker(
            liveness=spec.liveness,
            on_gone=lambda departure: self._cb.on_agent_left(),
            context={"room": spec.room_name},
        )
        """Which participant is the agent and whether it lives (see ``calls.agent_tracker``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._rooms_lease: RoomControlLease | None = None
        self._room_created = False
        self._closed = False

    # ------------------------------------------------------------------ media (subclasses)

    @abc.abstractmethod
    async def start(self) -> None:
        """Create the room with the agent dispatched, join it and publish the caller track."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop every task, leave the room and delete it. Safe to call more than once."""

    @abc.abstractmethod
    async def push_caller_audio(self, pcm: bytes) -> None:
        """Publish caller audio (PCM16 mono at ``publish_rate_hz``, a whole number of 10 ms)."""

    @abc.abstractmethod
    async def send_dtmf(self, digit: str) -> None:
        """Publish a caller keypress into the room (agents see ``sip_dtmf_received``)."""

    @abc.abstractmethod
    async def send_data(
        self, payload: bytes, *, topic: str, destinations: tuple[str, ...] = ()
    ) -> None:
        """Send a reliable data message to ``destinations`` (identities; empty: the agent
        only, or the room if it is unknown)."""

    # ------------------------------------------------------------------ room control

    @property
    def agent_identity(self) -> str:
        """The agent's identity once it has joined, else ``""``."""
        return self._agent.identity

    @property
    def agent_state(self) -> str:
        """The agent's ``lk.agent.state`` (``""`` until known)."""
        return self._agent.state

    @property
    def agent_departure(self) -> AgentDeparture:
        """Why the agent is gone (``""`` while it is there or still expected)."""
        return self.agents.departure

    @property
    def agent_audio_frames(self) -> int:
        """Frames of the current agent's audio delivered so far."""
        return self._agent.audio_frames

    @property
    def room_control(self) -> RoomControl | None:
        """The process's shared RoomControl while this call holds a lease on it, else None."""
        return self._rooms_lease.rooms if self._rooms_lease is not None else None

    def _rooms(self) -> RoomControl:
        if self._rooms_lease is None:
            self._rooms_lease = lease_room_control(self.spec.livekit)
        return self._rooms_lease.rooms

    def _token(self) -> str:
        return caller_token(
            credentials=self.spec.livekit,
            room=self.room_name,
            identity=self.identity,
            name=self.spec.attributes.get("from", self.identity),
            kind=self.spec.participant_kind,
            attributes=self.spec.attributes,
        )

    async def _create_room(self) -> None:
        rooms = self._rooms()
        self._room_created = True  # before asking: a lost answer must not leave the room behind
        await rooms.create_room(
            self.room_name,
            agent_name=self.spec.agent_name,
            empty_timeout_s=_EMPTY_TIMEOUT_S,
            departure_timeout_s=_DEPARTURE_TIMEOUT_S,
        )

    async def delete_room(self) -> bool:
        """Delete the room (removes the agent too); True once it is gone. A room already
        gone is fine; transport errors are retried (see ``livekit.rooms.delete_room``)."""
        return await self._rooms().delete_room(self.room_name)

    async def _end_room(self) -> None:
        """Delete the room if this call created it, then give back the RoomControl lease.
        A delete that gave up is logged (``room outlived its call``); nothing raises.

        Before the delete, an agent still serving our caller gets up to
        ``AGENT_REPORT_WAIT_S`` to publish its final report (``session_ended``: the whole
        transcript and metrics) and leave, when someone else is in the room to receive it
        (``omnivoice-rtc call``'s observer, a recording egress); alone with the agent, the
        room goes at once (the agent writes its report to the ledger itself)."""
        try:
            if self._room_created:
                await self._bounded("agent report", self._let_agent_report())
            if self._room_created and not await self.delete_room():
                logger.error("room outlived its call", extra={"room": self.room_name})
        finally:
            lease, self._rooms_lease = self._rooms_lease, None
            if lease is not None:
                await self._bounded("room control release", lease.aclose())

    async def _let_agent_report(self) -> None:
        link = self._agent
        if not link.identity or link.left or link.ended:
            return  # no agent, gone, or it already reported (it ended the conversation)
        started = time.monotonic()
        while True:
            present = await self._rooms().participant_identities(self.room_name)
            listeners = present - {link.identity, self.identity}
            waited_s = time.monotonic() - started
            if link.identity not in present or not listeners or waited_s >= AGENT_REPORT_WAIT_S:
                logger.debug(
                    "room kept for the agent's report",
                    extra={
                        "room": self.room_name,
                        "waited_ms": round(waited_s * 1000),
                        "listeners": len(listeners),
                        "agent_left": link.identity not in present,
                    },
                )
                return
            await asyncio.sleep(_REPORT_POLL_S)

    async def _bounded(self, step: str, aw: Awaitable[object]) -> bool:
        """One teardown step, at most ``liveness.teardown_step_s``; a failure or overrun is
        logged and the teardown goes on (:func:`~omnivoice_rtc.calls.teardown.teardown_step`)."""
        return await teardown_step(
            step, aw, timeout_s=self.spec.liveness.teardown_step_s, context={"room": self.room_name}
        )

    def _spawn(self, coro: Coroutine[None, None, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel_tasks(self, extra: list[asyncio.Task[None]]) -> None:
        await stop_tasks(
            [*self._tasks, *extra],
            timeout_s=self.spec.liveness.teardown_step_s,
            context={"room": self.room_name},
        )
        self._tasks.clear()

    # ------------------------------------------------------------------ the agent

    @property
    def _agent(self) -> AgentLink:
        return self.agents.link

    def _note_agent(self, identity: str, attributes: dict[str, str]) -> bool:
        """A participant of kind agent is in the room; the first one (that was not given
        up on) is *the* agent. True when ``identity`` is the agent. A second agent after a
        fresh one was dispatched (:meth:`AgentTracker.claim_surplus`) is removed."""
        if self.agents.claim_surplus(identity):
            self._spawn(self._remove_surplus_agent(identity))
            return False
        return self.agents.note(identity, attributes)

    async def _remove_surplus_agent(self, identity: str) -> None:
        await self._bounded("surplus agent removal", self._remove_stale_agent(identity))

    def _note_agent_audio(self) -> None:
        self.agents.note_audio()

    def _participant_left(self, identity: str) -> None:
        self.agents.participant_left(identity)

    def _agent_gone(self, departure: AgentDeparture) -> None:
        self.agents.gone(departure)

    async def replace_agent(self, *, metadata: str) -> None:
        """Give up on the current agent and dispatch a fresh one with ``metadata`` (see
        :func:`omnivoice_rtc.calls.liveness.resume_metadata`).

        A lingering participant of the old agent (a killed process stays listed for
        15-25 s) is removed once the fresh one is dispatched, so it cannot come back as a
        second agent; the fresh one has ``liveness.agent_rejoin_timeout_s`` to join
        before ``on_agent_left`` (``agent_never_joined``). Raises what the dispatch raises."""
        old = self.agents.retire()
        self._agent_replaced(old)
        await self._dispatch_fresh_agent(metadata)
        self._spawn(self.agents.watch_join(self.spec.liveness.agent_rejoin_timeout_s))
        if old:  # after the dispatch: the caller waits for the fresh agent, not for this
            await self._bounded("stale agent removal", self._remove_stale_agent(old))

    async def _dispatch_fresh_agent(self, metadata: str) -> None:
        await self._rooms().dispatch_agent(self.room_name, self.spec.agent_name, metadata=metadata)

    async def _remove_stale_agent(self, identity: str) -> None:
        await self._rooms().remove_participant(self.room_name, identity)

    def _agent_replaced(self, old_identity: str) -> None:  # noqa: B027 - reason: optional hook
        """Subclass hook: forget the old agent's media (its identity, may be empty)."""

    async def _agent_answers(self, identity: str, timeout_s: float) -> bool:
        """Whether agent ``identity`` proves it is alive within ``timeout_s`` (s). The
        default judges by its audio (:meth:`AgentTracker.silent_too_long`); subclasses
        that can ping do."""
        return not self.agents.silent_too_long()

    _AGENT_CHECK_EVERY_S: float | None = 0.25
    """How often :meth:`_agent_answers` is asked (s); None = every ``agent_ping_s``. The
    default check (the agent's audio) costs nothing, so it runs often; a ping does not."""

    async def _watch_agent_alive(self) -> None:
        every_s = self._AGENT_CHECK_EVERY_S
        if every_s is not None:
            every_s = min(every_s, self.spec.liveness.agent_ping_s)
        await self.agents.watch_alive(
            self._agent_answers,
            closed=lambda: self._closed,
            server_answers=self._server_answers,
            every_s=every_s,
        )

    async def _server_answers(self, timeout_s: float) -> bool:
        """Whether livekit-server answers a request about this room within ``timeout_s`` (s)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._rooms().list_rooms([self.room_name])
        except (TimeoutError, OSError, aiohttp.ClientError, api.TwirpError, RuntimeError):
            return False
        return True

    async def _watch_agent_join(self) -> None:
        await self.agents.watch_join(self.spec.agent_join_timeout_s)

    def _attributes_changed(self, identity: str, changed: dict[str, str]) -> None:
        states = self.agents.state_changed(identity, changed)
        if states is not None:
            self._cb.on_agent_state(*states)

    def _dtmf_received(self, sender: str | None, digit: str) -> None:
        if sender == self.identity:
            return  # our own caller digits echoed back
        if sender is not None and self._agent.identity and sender != self._agent.identity:
            return
        self._cb.on_agent_dtmf(digit)

    def _deliver_event_json(self, raw: bytes) -> None:
        try:
            event, participant, _session_id = decode_event_packet(raw)
        except ValueError as exc:
            logger.warning("bad omnivoice event from agent", extra={"error": str(exc)})
            return
        if participant and participant != self.identity:
            return  # a session the agent runs for someone else in this room
        if event.type is EventType.SESSION_ENDED and not event.error:
            self.agents.session_ended()  # it ended the conversation: leaving ends the call
        if event.type is EventType.INTERRUPTION:
            logger.debug("agent interruption event", extra={"room": self.room_name})
        self._cb.on_event(event)
