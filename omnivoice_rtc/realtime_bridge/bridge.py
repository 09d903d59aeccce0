"""RealtimeBridge: telephony audio <-> a livekit-agents realtime model session, no room needed.

Port of the Go ``RealtimeBridge``. Inbound telephony frames (e.g. μ-law 8 kHz from Twilio) are
converted in one call each to the model's PCM16 input format and pushed into
``RealtimeModel.session()``; the model's reply audio is converted back to the telephony format
and delivered as 20 ms frames through :meth:`RealtimeBridge.audio_out`. The bridge reports Go
``Event`` s and keeps the transcript (``Turn`` s) and ``Metrics`` in a
:class:`~omnivoice_rtc.conversation.ConversationStats` fed with every event it emits.

Events (``Event.data``, :mod:`omnivoice_rtc.types.event_data`): ``session_started``;
``user_speech_start``; ``user_speech_end`` ``SpeechEnded``; ``user_transcript``
``UserTranscript`` (final); ``agent_thinking``; ``agent_speech_start``; ``agent_transcript``
``AgentTranscript``; ``agent_speech_end`` ``SpeechEnded``; ``tool_call`` ``ToolCall`` (built
by :func:`~omnivoice_rtc.conversation.build_tool_call`); ``interruption`` ``Interruption``;
``error`` ``ErrorDetail`` (source ``realtime`` or ``bridge``) with ``Event.error``;
``session_ended``. Per-frame ``audio_received``/``audio_sent`` events are not emitted (they
would be 100 a second); the byte counts (telephony bytes) are in :meth:`RealtimeBridge.metrics`.

Queues: ``audio_out`` holds at most ``BridgeConfig.buffer_size`` frames and drops the oldest
when its reader falls behind (late audio is worse than lost audio on a call); ``events``
holds at most 1,000 events, also dropping the oldest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Self

from livekit import rtc
from livekit.agents import llm

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import GEMINI_INPUT, OPENAI, TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.realtime_bridge.function_calls import declared_tool, run_function_call
from omnivoice_rtc.realtime_bridge.reply_audio import ReplyAudio, put_drop_oldest
from omnivoice_rtc.types import (
    AgentTranscript,
    BridgeConfig,
    ErrorDetail,
    Event,
    EventData,
    EventType,
    Interruption,
    Metrics,
    ProcessConfig,
    SpeechEnded,
    Turn,
    UserTranscript,
)
from omnivoice_rtc.types.config import FunctionCallHandler

__all__ = ["RealtimeBridge"]

logger = logging.getLogger(__name__)

_EVENT_QUEUE_MAX = 1000
_DEFAULT_BUFFER_FRAMES = 100  # Go BridgeConfig.BufferSize "(default: 100)"
_END = object()


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


class RealtimeBridge:
    """Bridges one telephony audio stream with one realtime model session.

    ``config.provider`` is a livekit-agents ``llm.RealtimeModel`` (owned by the caller: the
    bridge closes its session, never the model). ``config.to_format`` is the model's input
    format (PCM16); the reply audio is converted from whatever rate the model sends.
    ``on_function_call(call_id, name, arguments_json)`` (sync or async) answers the
    functions of ``config.process_config``; without it function calls are reported as
    ``tool_call`` events and answered with an error so the model carries on.
    """

    def __init__(
        self, *, config: BridgeConfig, on_function_call: FunctionCallHandler | None = None
    ) -> None:
        if not isinstance(config.provider, llm.RealtimeModel):
            raise ValueError(
                "BridgeConfig.provider: expected a livekit.agents.llm.RealtimeModel, got "
                f"{type(config.provider).__name__}"
            )
        if config.from_format is None or config.to_format is None:  # unset in Go JSON
            raise ValueError("BridgeConfig: from_format and to_format must be set")
        if config.to_format.encoding is not AudioEncoding.PCM16:
            raise ValueError(
                "BridgeConfig.to_format: a realtime model takes PCM16 little-endian, got "
                f"{config.to_format.encoding}"
            )
        self.config = config
        self._from_format: AudioFormat = config.from_format
        self._to_format: AudioFormat = config.to_format
        self._on_function_call = on_function_call
        self._inbound = StreamConverter(from_format=self._from_format, to_format=self._to_format)
        # a non-positive size can only come from JSON (the constructor refuses it); an
        # unbounded queue would hide a stalled reader, so it gets Go's default
        buffer = config.buffer_size if config.buffer_size > 0 else _DEFAULT_BUFFER_FRAMES
        self._reply = ReplyAudio(telephony=self._from_format, capacity=buffer)
        self._events: asyncio.Queue[Event | object] = asyncio.Queue(_EVENT_QUEUE_MAX)
        self._stats = ConversationStats()
        self._user_speaking_since: float | None = None
        self._user_stopped_at: float | None = None
        self._session: llm.RealtimeSession[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._generating = 0  # replies in progress
        self._interrupted_generation: set[int] = set()
        self._generation_seq = 0
        self._closed = False

    # -- Go constructors ------------------------------------------------------------------

    @classmethod
    def for_twilio(
        cls, provider: llm.RealtimeModel, process_config: ProcessConfig | None = None
    ) -> Self:
        """Twilio (μ-law 8 kHz) <-> OpenAI Realtime (PCM16 24 kHz)."""
        return cls(
            config=BridgeConfig(
                provider=provider,
                process_config=process_config or ProcessConfig(),
                from_format=TWILIO,
                to_format=OPENAI,
            )
        )

    @classmethod
    def for_twilio_gemini(
        cls, provider: llm.RealtimeModel, process_config: ProcessConfig | None = None
    ) -> Self:
        """Twilio (μ-law 8 kHz) <-> Gemini Live (PCM16 16 kHz in, 24 kHz out)."""
        return cls(
            config=BridgeConfig(
                provider=provider,
                process_config=process_config or ProcessConfig(),
                from_format=TWILIO,
                to_format=GEMINI_INPUT,
            )
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the model session, apply instructions and functions, emit session_started."""
        if self._closed:
            raise SessionClosedError("RealtimeBridge.start: the bridge is closed")
        if self._session is not None:
            raise RuntimeError("RealtimeBridge.start: already started")
        session = self.config.provider.session()
        self._session = session
        session.on("input_speech_started", self._on_speech_started)
        session.on("input_speech_stopped", self._on_speech_stopped)
        session.on("input_audio_transcription_completed", self._on_user_transcript)
        session.on("generation_created", self._on_generation)
        session.on("metrics_collected", self._on_metrics)
        session.on("error", self._on_error)
        pc = self.config.process_config
        if pc.instructions:
            await session.update_instructions(pc.instructions)
        if pc.functions:
            await session.update_tools([declared_tool(f) for f in pc.functions])
        now = time.time()
        self._stats.start(now)
        self._emit(EventType.SESSION_STARTED, now)

    async def aclose(self) -> None:
        """Close the model session, cancel the bridge's tasks, end both iterators."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()
        now = time.time()
        self._stats.close(now)
        self._emit(EventType.SESSION_ENDED, now)
        put_drop_oldest(self._events, _END)
        self._reply.close()

    close = aclose
    """Go ``Close``: an alias of :meth:`aclose` (a coroutine)."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- audio ------------------------------------------------------------------------------

    def send_audio(self, audio: bytes | bytearray | memoryview) -> None:
        """Convert one telephony frame (``config.from_format``) and push it to the model.

        Raises SessionClosedError before :meth:`start` or after :meth:`aclose`, ValueError
        for a malformed frame (e.g. odd length for PCM16).
        """
        session = self._session
        if session is None or self._closed:
            raise SessionClosedError("RealtimeBridge.send_audio: the bridge is not running")
        pcm = self._inbound.process(audio)
        self._stats.audio_bytes_received += len(audio)
        if pcm:
            session.push_audio(rtc.AudioFrame(pcm, self._to_format.sample_rate, 1, len(pcm) // 2))

    async def audio_out(self) -> AsyncIterator[bytes]:
        """Reply audio in ``config.from_format``, 20 ms per item; ends when the bridge closes."""
        async for frame in self._reply.frames():
            yield frame

    async def events(self) -> AsyncIterator[Event]:
        """Session events in order; ends after ``session_ended``."""
        while True:
            item = await self._events.get()
            if item is _END:
                return
            assert isinstance(item, Event)  # reason: only Event and _END are queued
            yield item

    def transcript(self) -> list[Turn]:
        """The conversation so far (a copy)."""
        return self._stats.transcript()

    def metrics(self) -> Metrics:
        """Counters and latencies (ms) so far."""
        return self._stats.metrics()

    def interrupt(self) -> None:
        """Cancel the agent's current reply and drop its queued audio (Go ``Interrupt``)."""
        session = self._session
        if session is None or self._closed:
            return
        had_audio = self._reply.clear()
        if self._generating or had_audio:
            self._interrupted_generation.add(self._generation_seq)
            self._emit(EventType.INTERRUPTION, time.time(), Interruption(text=""))
        session.interrupt()

    # -- session events -------------------------------------------------------------------

    def _on_speech_started(self, _ev: llm.InputSpeechStartedEvent) -> None:
        now = time.time()
        self._user_speaking_since = now
        self._emit(EventType.USER_SPEECH_START, now)
        if self._generating or not self._reply.empty():
            self.interrupt()  # barge-in

    def _on_speech_stopped(self, _ev: llm.InputSpeechStoppedEvent) -> None:
        now = time.time()
        started, self._user_speaking_since = self._user_speaking_since, None
        self._user_stopped_at = now
        duration_s = now - started if started is not None else 0.0
        self._emit(
            EventType.USER_SPEECH_END, now, SpeechEnded(duration_ms=round(duration_s * 1000))
        )

    def _on_user_transcript(self, ev: llm.InputTranscriptionCompleted) -> None:
        text = ev.transcript.strip()
        if not ev.is_final or not text:
            return
        now = time.time()
        self._stats.add_user_turn(text, timestamp=_utc(now))
        self._emit(EventType.USER_TRANSCRIPT, now, UserTranscript(text=text, final=True))
        logger.debug("user transcript", extra={"omnivoice.pii.transcript": text})

    def _on_metrics(self, ev: Any) -> None:
        ttft = getattr(ev, "ttft", None)
        if getattr(ev, "type", "") == "realtime_model_metrics" and isinstance(ttft, float):
            self._stats.add_latency("llm", ttft)

    def _on_error(self, ev: llm.RealtimeModelError) -> None:
        self._emit(
            EventType.ERROR,
            ev.timestamp,
            ErrorDetail(source="realtime", recoverable=ev.recoverable),
            error=str(ev.error) or type(ev.error).__name__,
        )
        logger.warning("realtime model error", extra={"error": repr(ev.error)})

    def _on_generation(self, ev: llm.GenerationCreatedEvent) -> None:
        if self._closed:
            return
        self._generation_seq += 1
        self._generating += 1
        self._emit(EventType.AGENT_THINKING, time.time())
        self._spawn(self._run_generation(ev, self._generation_seq))

    # -- replies ----------------------------------------------------------------------------

    async def _run_generation(self, ev: llm.GenerationCreatedEvent, seq: int) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._run_functions(ev))
                async for message in ev.message_stream:
                    group.create_task(self._run_message(message, seq))
        finally:
            self._generating -= 1

    async def _run_message(self, message: llm.MessageGeneration, seq: int) -> None:
        text_parts: list[str] = []

        async def collect_text() -> None:
            async for delta in message.text_stream:
                text_parts.append(str(delta))

        text_task = asyncio.create_task(collect_text())
        try:
            samples, rate = await self._forward_audio(message.audio_stream, seq)
        finally:
            await text_task
        text = "".join(text_parts).strip()
        interrupted = seq in self._interrupted_generation
        duration_s = samples / rate if rate else 0.0
        now = time.time()
        if samples:
            ended = SpeechEnded(duration_ms=round(duration_s * 1000))
            self._emit(EventType.AGENT_SPEECH_END, now, ended)
        if text or samples:
            self._stats.add_agent_turn(text, timestamp=_utc(now), duration_s=duration_s)
            said = AgentTranscript(text=text, interrupted=interrupted)
            self._emit(EventType.AGENT_TRANSCRIPT, now, said)
            logger.debug("agent transcript", extra={"omnivoice.pii.transcript": text})

    async def _forward_audio(
        self, frames: AsyncIterator[rtc.AudioFrame] | Any, seq: int
    ) -> tuple[int, int]:
        """Convert reply frames to telephony 20 ms frames; returns (samples, rate in Hz)."""
        samples = 0
        rate = 0
        self._reply.begin()
        async for frame in frames:
            if seq in self._interrupted_generation:
                continue  # drain without playing
            if samples == 0:
                now = time.time()
                if self._user_stopped_at is not None:  # once per turn
                    self._stats.add_latency("total", now - self._user_stopped_at)
                    self._user_stopped_at = None
                self._emit(EventType.AGENT_SPEECH_START, now)
            rate = frame.sample_rate
            samples += frame.samples_per_channel
            self._reply.push(frame.data, rate)
            self._stats.audio_bytes_sent = self._reply.bytes_sent
        if seq not in self._interrupted_generation:
            self._reply.finish()
            self._stats.audio_bytes_sent = self._reply.bytes_sent
        return samples, rate

    # -- functions --------------------------------------------------------------------------

    async def _run_functions(self, ev: llm.GenerationCreatedEvent) -> None:
        outputs: list[llm.FunctionCallOutput] = []
        async for call in ev.function_stream:
            outputs.append(await self._call_function(call))
        session = self._session
        if outputs and session is not None and not self._closed:
            chat_ctx = session.chat_ctx.copy()
            chat_ctx.items.extend(outputs)
            await session.update_chat_ctx(chat_ctx)
            try:
                await session.generate_reply()
            except llm.RealtimeError as exc:
                self._emit(
                    EventType.ERROR,
                    time.time(),
                    ErrorDetail(source="realtime", recoverable=True),
                    error=f"reply after function call failed: {exc}",
                )

    async def _call_function(self, call: llm.FunctionCall) -> llm.FunctionCallOutput:
        record = await run_function_call(call, self._on_function_call)
        self._emit(EventType.TOOL_CALL, time.time(), record)
        return llm.FunctionCallOutput(
            call_id=call.call_id,
            name=call.name,
            output=record.error or record.result,
            is_error=bool(record.error),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _emit(
        self,
        kind: EventType,
        now: float,
        data: EventData | None = None,
        *,
        error: str | None = None,
    ) -> None:
        event = Event(type=kind, timestamp=_utc(now), data=data, error=error)
        self._stats.on_event(event)
        if put_drop_oldest(self._events, event):
            logger.warning("events reader is behind; dropped the oldest event")

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._emit(
                EventType.ERROR,
                time.time(),
                ErrorDetail(source="bridge", recoverable=True),
                error=f"{type(exc).__name__}: {exc}",
            )
            logger.error("bridge reply task failed", exc_info=exc)
