"""LiveKitSession: one conversation with one remote participant, on livekit-agents'
AgentSession (implements :class:`~omnivoice_rtc.types.WebRTCSession`).

The session subscribes to AgentSession events, maps them with
:class:`~.event_map.EventMapper`, keeps transcript/metrics in a
:class:`~omnivoice_rtc.conversation.ConversationStats` (fed by every event it emits and,
through :mod:`.event_map`, by livekit's conversation items and metrics), offers the
events through :meth:`events` (every call gets its own iterator that replays from the
first event) and relays each one to the room on the ``omnivoice.events`` data topic
(:mod:`.event_relay`).

Interruption modes (``SessionOptions.interruption_mode``):

* ``immediate``: the agent goes quiet after 0.25 s of user speech and its reply ends for
  good after 0.8 s of it or a transcript that is not a backchannel; a cough or an
  "mm-hm" resumes it 1.5 s later (:mod:`.barge_in`, :mod:`.backchannel`; no AEC warm-up).
* ``after_sentence``: talking over the agent does nothing until the user's utterance
  has been transcribed with at least 2 words (``min_words=2``, ``min_duration=1.0 s``):
  the agent is interrupted after the user's sentence, not by a noise or "uh-huh".
* ``disabled``: the agent always finishes (``interruption.enabled = False``).
* a mode this version does not list (kept from a Go service's JSON): ``immediate``,
  the safe choice: the caller can always cut the agent off.

``max_session_duration`` > 0: when it elapses the agent says a goodbye (not
interruptible, at most 10 s) and the session closes with reason ``max_duration`` (a
phone call is hung up: :mod:`.call_flow`).

Your agent: ``agent`` (a ``livekit.agents.Agent``, e.g. from your factory) replaces the
default ``Agent(instructions=parts.instructions)``; ``flow`` (a
:class:`~.call_flow.CallFlow`) adds the greeting, silence handling and the phone hang-up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.voice import events as lk

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.agent.agent_session_setup import new_agent_session, room_options
from omnivoice_rtc.agent.barge_in import BargeInCommit
from omnivoice_rtc.agent.call_flow import CallFlow, CallFlowDriver
from omnivoice_rtc.agent.event_history import EventHistory
from omnivoice_rtc.agent.event_map import (
    EventMapper,
    add_collected_metrics,
    add_conversation_item,
)
from omnivoice_rtc.agent.event_relay import EventRelay
from omnivoice_rtc.agent.io_counters import (
    CountingAudioInput,
    CountingAudioOutput,
    pcm16_frames,
    report_audio,
)
from omnivoice_rtc.agent.participants import interruption_settings, participant_info
from omnivoice_rtc.agent.room_audio_output import RoomAudioOutput
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.livekit.data_topics import LATENCY_TOPIC, decode_latency_report
from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter, ProviderToolCallsEvent
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.recording import SessionRecording
from omnivoice_rtc.types import (
    Event,
    EventType,
    InterruptionMode,
    Metrics,
    ParticipantInfo,
    SessionEnded,
    SessionOptions,
    SessionStarted,
    Turn,
    UserTranscript,
)

__all__ = [
    "CLOSE_TIMEOUT_S",
    "GOODBYE_TEXT",
    "LiveKitSession",
    "interruption_settings",
    "participant_info",
]

logger = logging.getLogger(__name__)

GOODBYE_TEXT = "Our time is up. Goodbye!"
CLOSE_TIMEOUT_S = 20.0  # s; safety bound on AgentSession close (its drain awaits every speech)


class LiveKitSession:
    """A voice session with one remote participant of a connected ``rtc.Room``.

    Create, then ``await start()``; ``await wait_closed()`` returns once the session
    ended (participant left, close(), max duration, or unrecoverable provider errors).
    """

    def __init__(
        self,
        *,
        room: rtc.Room,
        participant: rtc.RemoteParticipant,
        parts: PipelineParts,
        options: SessionOptions | None = None,
        relay_events: bool = True,
        primary: bool = True,
        output_sample_rate_hz: int = 24000,
        agent: Agent | None = None,
        flow: CallFlow | None = None,
    ) -> None:
        self._room = room
        self._remote = participant
        self._info = participant_info(participant, room.name)
        self._parts = parts
        self._agent = agent
        self._flow = flow or CallFlow()
        self._driver: CallFlowDriver | None = None
        self._options = options or SessionOptions()
        self._primary = primary
        self._output_rate = output_sample_rate_hz
        self._id = f"{room.name}/{participant.identity}"
        self._mapper = EventMapper()
        self._started_at = time.time()  # s, wall clock
        self._stats = ConversationStats(started_at=self._started_at)
        self._history = EventHistory()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = asyncio.Event()
        self._finishing = False
        self._agent_close: asyncio.Task[None] | None = None
        self._teardown: asyncio.Task[None] | None = None
        self._ended = False
        self._close_reason = ""
        self._session: AgentSession[None] | None = None
        self.recording: SessionRecording | None = None
        """The call's recording (set by the job when calls are recorded); its ``files``
        are the reference, also in the ``session_ended`` event's ``recording``."""
        self._output: RoomAudioOutput | None = None
        self._barge_in: BargeInCommit | None = None
        self._reply_unmeasured = False  # an agent reply started; no latency report taken yet
        self._relay = (
            EventRelay(
                publisher=room.local_participant,
                participant=participant.identity,
                session_id=self._id,
            )
            if relay_events
            else None
        )

    # -- WebRTCSession properties ---------------------------------------------------------
    @property
    def id(self) -> str:
        return self._id

    @property
    def participant(self) -> ParticipantInfo:
        return self._info

    @property
    def room_name(self) -> str:
        return self._room.name

    @property
    def agent_identity(self) -> str:
        return self._room.local_participant.identity

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self._started_at, UTC)

    @property
    def duration(self) -> timedelta:
        end = self._stats.ended_at if self._stats.ended_at is not None else time.time()
        return timedelta(seconds=end - self._started_at)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def agent_session(self) -> AgentSession[None] | None:
        """The underlying livekit-agents AgentSession (None before start)."""
        return self._session

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        parts = self._parts
        session = new_agent_session(
            parts,
            interruption_mode=self._options.interruption_mode,
            user_away_timeout_s=self._flow.user_away_timeout_s,
        )
        self._session = session
        if self._options.interruption_mode not in (
            InterruptionMode.AFTER_SENTENCE,
            InterruptionMode.DISABLED,
        ):  # immediate, and any mode this version does not list
            self._barge_in = BargeInCommit(session)
            session.on("user_state_changed", self._barge_in.on_user_state)
        session.on("user_state_changed", self._on_user_state)
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_input_transcribed", self._on_transcribed)
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("metrics_collected", functools.partial(add_collected_metrics, self._stats))
        session.on("error", self._on_error)
        session.on("close", self._on_close)
        if isinstance(parts.llm, LLMProviderAdapter):  # tools an LLMProvider ran itself
            parts.llm.on("provider_tool_calls", self._on_provider_tools)
        self._room.on("sip_dtmf_received", self._on_dtmf)
        self._room.on("participant_disconnected", self._on_participant_left)
        self._room.on("data_received", self._on_data)
        if self._relay is not None:
            self._relay.start()
        # our room output (short native queue, a pause that silences at once); set before
        # start, RoomIO wraps it in its transcript synchronizer instead of building its own
        self._output = RoomAudioOutput(
            self._room,
            sample_rate_hz=self._output_rate,
            track_name=f"omnivoice-agent-{self._remote.identity}",
        )
        session.output.audio = self._output
        self._spawn(self._output.start(), "omnivoice.publish_agent_audio")
        await session.start(
            self._agent or Agent(instructions=parts.instructions),
            room=self._room,
            room_options=room_options(
                self._remote.identity,
                text_input=self._primary,
                input_frame_ms=parts.input_frame_ms,
            ),
            record=False,
            session_host=False,
        )
        if session.input.audio is not None:
            session.input.audio = CountingAudioInput(session.input.audio, self._stats)
        if session.output.audio is not None:
            session.output.audio = CountingAudioOutput(session.output.audio, self._stats)
        started = SessionStarted(
            participant=self._remote.identity,
            room=self._room.name,
            pipeline=parts.name,
            interruption_mode=str(self._options.interruption_mode),
        )
        self._emit(Event(type=EventType.SESSION_STARTED, data=started))
        self._spawn(report_audio(self._stats, self._emit), "omnivoice.audio_report")
        self._driver = CallFlowDriver(
            flow=self._flow,
            session=session,
            room=self._room,
            participant=self._remote,
            spawn=self._spawn,
            end_call=self._end_call,
        )
        self._driver.start()
        limit = self._options.max_session_duration.total_seconds()
        if limit > 0:
            self._spawn(self._enforce_max_duration(limit), "omnivoice.max_duration")

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def close(self) -> None:
        """End the session (idempotent); returns once it is torn down, or after
        ``CLOSE_TIMEOUT_S`` s with a warning if livekit-agents' close does not finish."""
        if self._session is not None and not self._ended:
            self._close_reason = self._close_reason or "user_initiated"
            if self._agent_close is None:  # once; never cancelled: its lock is not ours to break
                self._agent_close = asyncio.create_task(
                    self._session.aclose(), name="omnivoice.agent_session_close"
                )
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await asyncio.shield(self._agent_close)
            except TimeoutError:
                logger.warning(
                    "agent session did not close in time; finishing without it",
                    extra={"session": self._id, "timeout_s": CLOSE_TIMEOUT_S},
                )
        await self._finish()

    async def aclose(self) -> None:
        await self.close()

    # -- WebRTCSession methods ------------------------------------------------------------
    def events(self) -> AsyncIterator[Event]:
        return self._history.iterate()

    def transcript(self) -> list[Turn]:
        return self._stats.transcript()

    def metrics(self) -> Metrics:
        return self._stats.metrics()

    def _require_running(self) -> AgentSession[None]:
        if self._session is None or self._ended:
            raise SessionClosedError(f"session {self._id} is not running")
        return self._session

    async def send_text(self, text: str) -> None:
        """A user turn from text (bypasses STT); the agent answers it by voice."""
        if not text.strip():
            raise ValueError("send_text: text must not be empty")
        session = self._require_running()
        data = UserTranscript(text=text, final=True, source="text")
        self._emit(Event(type=EventType.USER_TRANSCRIPT, data=data))
        session.generate_reply(user_input=text)

    async def send_audio(
        self, samples: Sequence[int] | bytes, *, sample_rate_hz: int = 24000
    ) -> None:
        """Play PCM16 mono audio (``bytes`` little-endian, or a sequence of int samples)
        at ``sample_rate_hz`` Hz to the participant, queued like agent speech."""
        session = self._require_running()
        frames = pcm16_frames(samples, sample_rate_hz=sample_rate_hz)  # ValueError if bad
        if not frames:
            return

        async def play() -> AsyncIterable[rtc.AudioFrame]:
            for frame in frames:
                yield frame

        handle = session.say("", audio=play(), add_to_chat_ctx=False)
        await handle.wait_for_playout()

    def interrupt(self) -> None:
        """Stop the agent's current speech now (no-op when it is silent or closed)."""
        if self._session is None or self._ended:
            return
        try:
            self._session.interrupt(force=True)
        except RuntimeError as exc:
            logger.debug("interrupt ignored", extra={"reason": str(exc)})

    # -- event handlers -------------------------------------------------------------------
    def _emit(self, event: Event) -> None:
        if self._ended:
            return
        self._stats.on_event(event)
        self._history.append(event)
        if self._relay is not None:
            self._relay.publish(event)
        self._spawn(self._history.notify(), "omnivoice.notify")
        if event.type is EventType.SESSION_ENDED:
            self._ended = True

    def _emit_all(self, events: list[Event]) -> None:
        for event in events:
            self._emit(event)

    def _on_user_state(self, ev: lk.UserStateChangedEvent) -> None:
        self._emit_all(self._mapper.user_state(ev))

    def _on_agent_state(self, ev: lk.AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._reply_unmeasured = True
        self._emit_all(self._mapper.agent_state(ev))

    def _on_data(self, packet: rtc.DataPacket) -> None:
        """A mouth-to-ear report from the caller's side (``omnivoice.latency``): taken
        from this session's participant only, at most one per agent reply."""
        if packet.topic != LATENCY_TOPIC or packet.participant is None:
            return
        if packet.participant.identity != self._remote.identity or not self._reply_unmeasured:
            return
        try:
            report = decode_latency_report(packet.data)
        except ValueError as exc:
            logger.warning("ignored latency report", extra={"reason": str(exc)})
            return
        self._reply_unmeasured = False
        self._emit(Event(type=EventType.TURN_LATENCY, data=report))

    def _on_transcribed(self, ev: lk.UserInputTranscribedEvent) -> None:
        self._emit_all(self._mapper.user_transcribed(ev))

    def _on_item(self, ev: lk.ConversationItemAddedEvent) -> None:
        add_conversation_item(self._stats, ev)
        self._emit_all(self._mapper.conversation_item(ev))

    def _on_tools(self, ev: lk.FunctionToolsExecutedEvent) -> None:
        self._emit_all(self._mapper.tools_executed(ev))  # the stats count tool_call events

    def _on_provider_tools(self, ev: ProviderToolCallsEvent) -> None:
        self._emit_all(self._mapper.provider_tools(ev))

    def _on_error(self, ev: lk.ErrorEvent) -> None:
        self._emit_all(self._mapper.error(ev))

    def _on_dtmf(self, ev: rtc.SipDTMF) -> None:
        if ev.participant is not None and ev.participant.identity != self._remote.identity:
            return
        self._emit(EventMapper.dtmf(ev.digit))

    def _on_participant_left(self, p: rtc.RemoteParticipant) -> None:
        if p.identity == self._remote.identity and not self._finishing:
            self._spawn(self._close_if_stuck(), "omnivoice.close_watchdog")

    async def _close_if_stuck(self) -> None:
        """livekit closes the session on disconnect; make sure it ends (so does the job)."""
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._closed.wait()
        except TimeoutError:
            logger.warning(
                "session still open after its participant left; closing it",
                extra={"session": self._id, "timeout_s": CLOSE_TIMEOUT_S},
            )
            await self.close()

    def _on_close(self, ev: lk.CloseEvent) -> None:
        self._stats.close(ev.created_at)
        data = self._final_report(self._close_reason or ev.reason.value)
        error = None
        if ev.error is not None:
            inner = getattr(ev.error, "error", None)
            error = str(inner) if inner is not None else str(ev.error)
        self._emit(Event(type=EventType.SESSION_ENDED, data=data, error=error))
        self._begin_teardown()

    def _final_report(self, reason: str) -> SessionEnded:
        return SessionEnded(
            reason=reason,
            metrics=self._stats.metrics(),
            transcript=tuple(self._stats.transcript()),
            recording=self.recording.files if self.recording is not None else (),
        )

    # -- owned tasks ----------------------------------------------------------------------
    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enforce_max_duration(self, limit_s: float) -> None:
        await asyncio.sleep(limit_s)
        if self._session is None or self._ended or self._driver is None:
            return
        self._close_reason = "max_duration"
        await self._driver.end_call("max_duration", GOODBYE_TEXT)

    async def _end_call(self, reason: str) -> None:
        """End the call with ``reason``: hang up a phone call, then close (in a task of its
        own: the teardown cancels the task this runs in)."""
        self._close_reason = self._close_reason or reason
        try:
            if self._flow.hang_up is not None and not self._finishing:
                await self._flow.hang_up()
        finally:
            if not self._finishing:
                self._spawn(self.close(), f"omnivoice.{reason}_close")

    def _begin_teardown(self) -> asyncio.Task[None]:
        if self._teardown is None:
            self._finishing = True
            self._teardown = asyncio.create_task(self._tear_down(), name="omnivoice.teardown")
        return self._teardown

    async def _finish(self) -> None:
        """Tear down once (a task of its own: a cancelled caller cannot leave it half
        done) and wait for it -- except from one of the session's own tasks, which the
        teardown cancels and awaits: a cancel does not always stop it (3.11's wait_for
        returns normally when its inner future is already done), and both would wait
        on each other for good (the hang of max_session_duration's close task)."""
        teardown = self._begin_teardown()
        if asyncio.current_task() not in self._tasks:
            await asyncio.shield(teardown)

    async def _tear_down(self) -> None:
        try:
            self._room.off("sip_dtmf_received", self._on_dtmf)
            self._room.off("participant_disconnected", self._on_participant_left)
            self._room.off("data_received", self._on_data)
            if self._driver is not None:
                self._driver.stop()
            if not self._ended:  # torn down without a close event (e.g. start failed)
                self._stats.close()
                data = self._final_report(self._close_reason or "error")
                self._emit(Event(type=EventType.SESSION_ENDED, data=data))
            self._history.end()
            await self._history.notify()
            if self._relay is not None:
                await self._relay.aclose()
            while pending := [t for t in self._tasks if not t.done()]:
                for task in pending:  # until none is left: a cancelled task may spawn one
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
            if self._barge_in is not None:
                await self._barge_in.aclose()
            if self._output is not None:
                await self._output.aclose()
        finally:
            self._closed.set()

    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        """Tasks this session still owns (empty once closed; tests assert it)."""
        current = asyncio.current_task()
        return [t for t in self._tasks if not t.done() and t is not current]
