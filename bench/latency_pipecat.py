"""bench/latency.py's ``twilio``/``pipecat`` row: pipecat's own Twilio WebSocket pipeline
with fakes equivalent to ours, called by the same simulated Twilio caller.

The pipeline is the one of pipecat's Twilio examples (pipecat-examples
``twilio-chatbot/inbound/bot.py``), on the transport pipecat ships for a plain WebSocket
server (``SingleClientWebsocketServerTransport``; the examples' FastAPI transport needs
FastAPI and uvicorn, not installed here, and does the same per call) with
``TwilioFrameSerializer``::

    transport.input() -> STT -> user aggregator (silero VAD, turn strategies)
        -> LLM -> TTS -> transport.output() -> assistant aggregator

at 8000 Hz in and out, as the examples set. The fakes, like bench/pipeline.py's:

* STT: a ``SegmentedSTTService`` (transcribes the VAD's segment when the VAD reports the
  end of speech, as livekit-agents does with a non-streaming STT) that returns
  the transcript of the utterance (``bench.pipeline.transcript_of``: ``USER_SENTENCE`` or "mm
  hm" by its length) at once, finalized, with a p99 latency of 0;
* LLM: the same rules responder (:func:`omnivoice_rtc.pipelines.local.responder.respond`)
  answering the last user message at once;
* TTS: the same pre-rendered reply (24000 Hz, resampled to the pipeline's 8000 Hz by
  pipecat) at once, once per reply (token aggregation: the one text frame of the reply is
  synthesized as it comes; sentence aggregation would split it and speak the reply twice);
* endpointing: pipecat's silero VAD with ``stop_secs=0.4`` (our 400 ms minimum silence;
  pipecat's default is 0.2 s followed by its smart-turn model) and the stop strategy
  ``SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0)``: the turn ends as soon as
  the VAD has stopped and the transcript is in, no extra delay. The other VAD parameters
  are pipecat's defaults (confidence 0.7, start 0.2 s, min volume 0.6). So the row's
  endpointing is 400 ms like ours, and the same ``ENDPOINTING_MS`` is subtracted.

Everything runs in the bench's process and event loop, like our agent and shim.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Final

import numpy as np

from bench.latency_rows import Row
from bench.latency_twilio_caller import TWILIO_RATE_HZ, TwilioCaller, telephone_band
from bench.pipeline import AGENT_RATE_HZ, VAD_MIN_SILENCE_MS, transcript_of
from omnivoice_rtc.pipelines.local.responder import respond
from omnivoice_rtc.stack import free_port

__all__ = ["PipecatTwilioBot", "twilio_pipecat_row"]

_READY_S: Final = 30.0
"""How long pipecat may take to start its pipeline and WebSocket server (s)."""
_CLOSE_S: Final = 10.0
"""How long pipecat may take to finish once cancelled (s)."""


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _pipeline_parts(agent_pcm: bytes, on_stage: Callable[[str], None]) -> tuple[Any, Any, Any]:
    """The fake STT, LLM and TTS as pipecat processors (see the module docstring)."""
    from pipecat.frames.frames import (
        Frame,
        LLMContextFrame,
        LLMFullResponseEndFrame,
        LLMFullResponseStartFrame,
        LLMTextFrame,
        TranscriptionFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.services.settings import STTSettings, TTSSettings
    from pipecat.services.stt_service import SegmentedSTTService
    from pipecat.services.tts_service import TextAggregationMode, TTSService
    from pipecat.utils.time import time_now_iso8601

    class InstantSTT(SegmentedSTTService):
        def __init__(self) -> None:
            super().__init__(ttfs_p99_latency=0.0, settings=STTSettings(model=None, language=None))

        @property
        def wants_wav_segments(self) -> bool:
            return False

        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            if isinstance(frame, VADUserStoppedSpeakingFrame):
                on_stage("pipecat VAD stopped")
            await super().process_frame(frame, direction)

        async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
            text = transcript_of(len(audio) / (2 * TWILIO_RATE_HZ))  # 16-bit mono
            yield TranscriptionFrame(text, "", time_now_iso8601(), finalized=True)

    class RulesResponder(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if not isinstance(frame, LLMContextFrame):
                await self.push_frame(frame, direction)
                return
            on_stage("pipecat LLM context")
            reply = respond(_last_user_text(list(frame.context.get_messages())))
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(reply))
            await self.push_frame(LLMFullResponseEndFrame())

    class InstantTTS(TTSService):
        def __init__(self) -> None:
            super().__init__(
                push_start_frame=True,
                push_stop_frames=True,
                text_aggregation_mode=TextAggregationMode.TOKEN,
                settings=TTSSettings(model=None, voice=None, language=None),
            )

        async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
            async def once() -> AsyncGenerator[bytes, None]:
                yield agent_pcm

            on_stage("pipecat TTS")
            async for frame in self._stream_audio_frames_from_iterator(
                once(), in_sample_rate=AGENT_RATE_HZ, context_id=context_id
            ):
                yield frame

    return InstantSTT(), RulesResponder(), InstantTTS()


class PipecatTwilioBot:
    """pipecat's Twilio pipeline with the fakes, serving one caller on ``127.0.0.1:port``
    whose stream is ``stream_id`` (the serializer addresses it); :meth:`aclose` ends it."""

    def __init__(
        self, *, agent_pcm: bytes, stream_id: str, port: int, on_stage: Callable[[str], None]
    ) -> None:
        self._agent_pcm, self._stream_id, self.port = agent_pcm, stream_id, port
        self._on_stage = on_stage
        self._task: Any = None
        self._running: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Build the pipeline, run it, and return once its WebSocket server listens."""
        from loguru import logger
        from pipecat.audio.vad.silero import SileroVADAnalyzer
        from pipecat.audio.vad.vad_analyzer import VADParams
        from pipecat.pipeline.pipeline import Pipeline
        from pipecat.pipeline.runner import PipelineRunner
        from pipecat.pipeline.task import PipelineParams, PipelineTask
        from pipecat.processors.aggregators.llm_context import LLMContext
        from pipecat.processors.aggregators.llm_response_universal import (
            LLMContextAggregatorPair,
            LLMUserAggregatorParams,
        )
        from pipecat.serializers.twilio import TwilioFrameSerializer
        from pipecat.transports.websocket.server import (
            SingleClientWebsocketServerParams,
            SingleClientWebsocketServerTransport,
        )
        from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
        from pipecat.turns.user_turn_strategies import UserTurnStrategies

        logger.remove()  # pipecat logs every frame at DEBUG; keep its warnings
        logger.add(sys.stderr, level="WARNING")
        transport = SingleClientWebsocketServerTransport(
            params=SingleClientWebsocketServerParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=TwilioFrameSerializer(
                    stream_sid=self._stream_id,
                    params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
                ),
            ),
            host="127.0.0.1",
            port=self.port,
        )
        stt, llm, tts = _pipeline_parts(self._agent_pcm, self._on_stage)
        user, assistant = LLMContextAggregatorPair(
            LLMContext(),
            user_params=LLMUserAggregatorParams(
                vad_analyzer=SileroVADAnalyzer(
                    params=VADParams(stop_secs=VAD_MIN_SILENCE_MS / 1000)
                ),
                user_turn_strategies=UserTurnStrategies(
                    stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.0)]
                ),
            ),
        )
        pipeline = Pipeline([transport.input(), stt, user, llm, tts, transport.output(), assistant])
        self._task = PipelineTask(
            pipeline,
            params=PipelineParams(
                audio_in_sample_rate=TWILIO_RATE_HZ, audio_out_sample_rate=TWILIO_RATE_HZ
            ),
        )
        ready = asyncio.Event()

        async def on_ready(_transport: Any) -> None:
            ready.set()

        transport.add_event_handler("on_websocket_ready", on_ready)

        runner = PipelineRunner(handle_sigint=False)
        self._running = asyncio.create_task(runner.run(self._task), name="pipecat-bot")
        waiting = asyncio.ensure_future(ready.wait())
        await asyncio.wait(
            {waiting, self._running}, timeout=_READY_S, return_when=asyncio.FIRST_COMPLETED
        )
        waiting.cancel()
        if not ready.is_set():
            await self.aclose()
            raise TimeoutError(f"pipecat's WebSocket server not listening in {_READY_S} s")

    async def aclose(self) -> None:
        """Cancel the pipeline and wait for it to finish."""
        if self._task is not None:
            await self._task.cancel()
        if self._running is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._running, _CLOSE_S)


async def twilio_pipecat_row(agent_pcm: bytes) -> tuple[Row, PipecatTwilioBot]:
    """The connected row (its caller streaming to pipecat's pipeline) and the bot to close
    after the caller. ``agent_pcm``: the pre-rendered reply (PCM16 at 24000 Hz)."""
    stream_id = "MZ" + secrets.token_hex(16)
    marks: list[tuple[str, float]] = []
    bot = PipecatTwilioBot(
        agent_pcm=agent_pcm,
        stream_id=stream_id,
        port=free_port(),
        on_stage=lambda stage: marks.append((stage, time.monotonic())),
    )
    await bot.start()
    caller = TwilioCaller(
        url=f"ws://127.0.0.1:{bot.port}",
        call_id="CA" + secrets.token_hex(16),
        stream_id=stream_id,
        marks=marks,
    )
    try:
        await caller.connect()
    except BaseException:
        await bot.aclose()
        raise
    reply = np.frombuffer(agent_pcm, dtype=np.int16)
    row = Row(
        "twilio",
        "pipecat",
        caller,
        marks=marks,
        reference=telephone_band(reply),
        rate_hz=TWILIO_RATE_HZ,
    )
    return row, bot
