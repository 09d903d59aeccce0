"""The agent's job logic, shared by agents/worker.py (dispatched jobs) and LiveKitGateway
(rooms joined directly).

:class:`RoomAgent` serves one connected ``rtc.Room``: it starts a
:class:`~.session.LiveKitSession` for every remote participant of kind standard or SIP
(agents, egress and ingress are ignored) whom the optional participant handler accepts,
and finishes when the last session has ended and no such participant is left (or when
nobody joined within ``join_timeout_s``). What each session runs comes from a
:class:`~.plugin.SessionPlanner` (your agent factory, or the built-in agent) given the
participant's :class:`~.call_context.CallContext`.

:class:`~omnivoice_rtc.settings.agent.AgentSettings` is what a job needs besides the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from livekit import rtc

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.agent.call_context import call_context_for
from omnivoice_rtc.agent.call_hold import CALL_CONTROL_COMMANDS, apply_call_command
from omnivoice_rtc.agent.control_policy import ControlPolicy, ControlRefused
from omnivoice_rtc.agent.livekit_session import LiveKitSession, participant_info
from omnivoice_rtc.agent.plugin import SessionPlanner, describe_plan
from omnivoice_rtc.agent.warm_transfer_command import (
    apply_warm_transfer_command,
    refuse_warm_transfer_command,
)
from omnivoice_rtc.calls.warm_transfer import is_handed_over
from omnivoice_rtc.ledger.agent_recorder import AgentCallRecorder
from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, decode_control
from omnivoice_rtc.logs import bind_call_id, install_call_id_filter, pii
from omnivoice_rtc.pipelines.local import shutdown_decoder
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.recording import CallRecorder, SessionRecording
from omnivoice_rtc.recording.session_recording import FINISH_TIMEOUT_S
from omnivoice_rtc.settings.agent import AgentSettings
from omnivoice_rtc.types import (
    LLMProvider,
    ParticipantHandler,
    PipelineMode,
)

__all__ = ["AgentSettings", "PartsFactory", "RoomAgent", "SessionCallback", "run_job"]

logger = logging.getLogger(__name__)

PartsFactory = Callable[[], PipelineParts]
"""Builds the parts of one session (your own livekit-agents plugins instead of settings)."""

SessionCallback = Callable[[LiveKitSession], Awaitable[None] | None]
"""Called with each session once it has started (the gateway registers it)."""

RECORDING_FINISH_WAIT_S = FINISH_TIMEOUT_S + 5.0
"""Longest the job's end waits (s) for its calls' recordings to be finished."""

_SERVED_KINDS = (
    rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD,
    rtc.ParticipantKind.PARTICIPANT_KIND_SIP,
)


async def _call(handler: Callable[..., Any], *args: Any) -> None:
    result = handler(*args)
    if inspect.isawaitable(result):
        await result


class RoomAgent:
    """Serves the participants of one connected room (see the module docstring)."""

    def __init__(
        self,
        *,
        room: rtc.Room,
        settings: AgentSettings,
        on_participant: ParticipantHandler | None = None,
        on_session: SessionCallback | None = None,
        llm_provider: LLMProvider | None = None,
        until_idle: bool = True,
        parts_factory: PartsFactory | None = None,
        planner: SessionPlanner | None = None,
        job_metadata: str = "",
        recorder: CallRecorder | None = None,
    ) -> None:
        self._room = room
        self._recorder = recorder  # records phone calls (OMNIVOICE_RECORD_CALLS)
        self._recordings: set[asyncio.Task[None]] = set()  # recordings being finished
        self._settings = settings
        self._planner = planner or SessionPlanner(
            settings=settings, llm_provider=llm_provider, parts_factory=parts_factory
        )
        self._job_metadata = job_metadata
        self._until_idle = until_idle
        self._on_participant = on_participant
        self._on_session = on_session
        self.sessions: dict[str, LiveKitSession] = {}
        self._starting: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()
        self._stopping = False
        self._control = ControlPolicy(limits=settings.control)
        self.served = False
        """True once a participant's session started (set by :meth:`run`)."""

    def _eligible(self, p: rtc.RemoteParticipant) -> bool:
        # a warm transfer's human, and its caller once connected, talk to each other
        return p.kind in _SERVED_KINDS and not is_handed_over(dict(p.attributes))

    def _on_connected(self, p: rtc.RemoteParticipant) -> None:
        if (
            self._stopping
            or not self._eligible(p)
            or p.identity in self.sessions
            or p.identity in self._starting
        ):
            return
        self._starting.add(p.identity)
        task = asyncio.create_task(self._serve(p), name=f"omnivoice.serve.{p.identity}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_disconnected(self, _p: rtc.RemoteParticipant) -> None:
        self._changed.set()

    def _on_room_disconnected(self, *_: Any) -> None:
        self._changed.set()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != CONTROL_TOPIC:
            return
        sender = packet.participant.identity if packet.participant is not None else ""
        try:
            command = decode_control(packet.data)
        except ValueError as exc:
            logger.warning("ignored control packet", extra={"sender": sender, "reason": str(exc)})
            return
        target = self._control.authorise(packet.participant, command, self.sessions.keys())
        if isinstance(target, ControlRefused):  # control_policy: who may steer, how much
            logger.warning(
                "control command refused",
                extra={
                    "sender": sender,
                    "participant": command.participant,
                    "type": command.type,
                    "reason": target.reason,
                },
            )
            if command.type == "warm_transfer":  # the requester waits for an answer
                self._spawn_control(refuse_warm_transfer_command(self._room, target.reason))
            return
        self._spawn_control(self._apply(self.sessions[target], command))

    def _spawn_control(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name="omnivoice.control")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, session: LiveKitSession, command: ControlCommand) -> None:
        try:
            if command.type == "say":
                await session.send_text(command.text)
            elif command.type == "interrupt":
                session.interrupt()
            elif command.type in CALL_CONTROL_COMMANDS:  # speak, hold, resume (call_tools)
                await apply_call_command(session.agent_session, command.type, command.text)
            elif command.type == "warm_transfer":  # answered in the agent's attribute
                await apply_warm_transfer_command(
                    session.agent_session,
                    room=self._room,
                    caller=session.participant.identity,
                    to=command.to,
                    summary=command.text,
                )
            else:
                await session.close()
        except SessionClosedError:
            logger.info("control command for a closed session", extra={"type": command.type})

    async def _serve(self, p: rtc.RemoteParticipant) -> None:
        bind_call_id(call_key(self._room.name, p.identity))  # on every log line of this call
        session: LiveKitSession | None = None
        try:
            info = participant_info(p, self._room.name)
            if self._on_participant is not None:
                try:
                    await _call(self._on_participant, info)
                except Exception as exc:  # noqa: BLE001 -- reason: a handler that raises rejects the participant (documented contract)
                    logger.info(
                        "participant rejected by handler",
                        extra={"participant": p.identity, "reason": str(exc)},
                    )
                    return
            try:
                plan = await self._planner.plan(
                    call_context_for(info, job_metadata=self._job_metadata)
                )
            except Exception:  # reason: your factory's failure is logged with its traceback; the participant is not served, other sessions go on
                logger.error(
                    "no agent for participant: the factory or its pipeline failed",
                    extra=pii(participant=p.identity),  # a SIP identity holds a number
                    exc_info=True,
                )
                return
            logger.info("serving participant", extra=describe_plan(plan))
            session = LiveKitSession(
                room=self._room,
                participant=p,
                parts=plan.parts,
                options=plan.options,
                relay_events=self._settings.relay_events,
                primary=not self.sessions,
                output_sample_rate_hz=self._settings.output_sample_rate_hz,
                agent=plan.agent,
                flow=plan.flow,
            )
            self.sessions[p.identity] = session
            if self._recorder is not None and plan.context.is_phone_call:
                session.recording = SessionRecording(
                    recorder=self._recorder,
                    room=self._room,
                    caller=p.identity,
                    call_id=call_key(self._room.name, p.identity),
                )
            try:
                await session.start()
            except Exception:
                await session.close()
                raise
            if session.recording is not None:
                session.recording.start()
            if self._on_session is not None:
                await _call(self._on_session, session)
            await session.wait_closed()
        finally:
            if session is not None and session.recording is not None:
                self._finish_recording(session.recording)
            self._starting.discard(p.identity)
            self.sessions.pop(p.identity, None)
            self._control.forget(p.identity)
            self._changed.set()

    def _finish_recording(self, recording: SessionRecording) -> None:
        """Stop the call's egresses in a task of its own: the job's end (:meth:`aclose`)
        waits for it, not the serve task, which the job's end cancels."""
        task = asyncio.create_task(recording.aclose(), name="omnivoice.recording.finish")
        self._recordings.add(task)
        task.add_done_callback(self._recordings.discard)

    def _idle(self) -> bool:
        others = [p for p in self._room.remote_participants.values() if self._eligible(p)]
        return not self.sessions and not self._starting and not others

    async def run(self) -> None:
        """Serve until idle after at least one participant (or join timeout), or stop()."""
        self._room.on("participant_connected", self._on_connected)
        self._room.on("participant_disconnected", self._on_disconnected)
        self._room.on("disconnected", self._on_room_disconnected)
        self._room.on("data_received", self._on_data)
        try:
            for p in list(self._room.remote_participants.values()):
                self._on_connected(p)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._settings.join_timeout_s
            while not self._stopping and self._room.isconnected():
                self.served = self.served or bool(self.sessions or self._starting)
                if self._until_idle and self._idle() and (self.served or loop.time() >= deadline):
                    return
                self._changed.clear()
                timeout = (
                    None
                    if self.served or not self._until_idle
                    else max(0.0, deadline - loop.time())
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=timeout)
        finally:
            self._room.off("participant_connected", self._on_connected)
            self._room.off("participant_disconnected", self._on_disconnected)
            self._room.off("disconnected", self._on_room_disconnected)
            self._room.off("data_received", self._on_data)
            await self.aclose()

    async def drain(self, *, timeout_s: float) -> None:
        """Take no new participants; let running sessions end for up to ``timeout_s`` s."""
        self._stopping = True
        waits = [s.wait_closed() for s in list(self.sessions.values())]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), timeout=timeout_s)
        await self.aclose()

    async def aclose(self) -> None:
        """Close every session and cancel what is still running."""
        self._stopping = True
        self._changed.set()
        await asyncio.gather(
            *(s.close() for s in list(self.sessions.values())), return_exceptions=True
        )
        if self._recordings:  # Egress finishes the files (bounded by FINISH_TIMEOUT_S)
            await asyncio.wait(list(self._recordings), timeout=RECORDING_FINISH_WAIT_S)
        tasks = [*self._tasks, *self._recordings]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _stop_local_decoder() -> None:
    await asyncio.to_thread(shutdown_decoder)  # joins the decoder process (blocking)


async def run_job(
    ctx: Any, settings: AgentSettings, *, planner: SessionPlanner | None = None
) -> None:
    """livekit-agents entrypoint body: connect, serve the room with ``planner``'s sessions
    (default: the built-in agent), then end the job."""
    await ctx.connect()
    if ctx.is_fake_job():  # console mode: no real room to relay events to
        settings = replace(settings, relay_events=False)
    logger.info("job connected", extra={"room": ctx.room.name, "agent_name": settings.agent_name})
    install_call_id_filter()
    recorder = await AgentCallRecorder.open(settings.ledger)  # None: ledger off
    agent = RoomAgent(
        room=ctx.room,
        settings=settings,
        planner=planner,
        job_metadata=ctx.job.metadata,
        on_session=recorder.track if recorder is not None else None,
        recorder=(
            CallRecorder(api=ctx.api, directory=settings.recording.directory)
            if settings.recording.record_calls and not ctx.is_fake_job()
            else None
        ),
    )
    ctx.add_shutdown_callback(agent.aclose)
    if recorder is not None:
        ctx.add_shutdown_callback(recorder.aclose)  # after the sessions' final reports
    if settings.pipeline.mode is PipelineMode.LOCAL or planner is not None:
        # one job per process: stop the STT decoder process (if one ran) so this one can
        # exit; with a planner any session may have picked the local pipeline
        ctx.add_shutdown_callback(_stop_local_decoder)
    await agent.run()
    if not agent.served and ctx.room.isconnected() and not ctx.room.remote_participants:
        # dispatched into a room nobody came to: typically a call that ended before this
        # agent joined, whose room the join re-created; gone now, not after the server's
        # departure timeout
        logger.info("job served nobody; deleting its empty room", extra={"room": ctx.room.name})
        await ctx.delete_room()
    ctx.shutdown("no participants left")
