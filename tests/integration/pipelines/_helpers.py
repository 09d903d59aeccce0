"""Shared helpers for the pipeline integration tests (real plugins against loopback fakes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.agents import llm
from livekit.agents.voice import io

from tests.conftest import require_binary
from tests.fakes.openai_http import espeak_pcm16, pcm16_rms

__all__ = [
    "QueueAudioInput",
    "Recorder",
    "collect_generation",
    "push_utterance",
    "rms",
    "speech_pcm",
]

MIC_RATE_HZ = 48000
FRAME_SAMPLES = MIC_RATE_HZ // 100  # 10 ms


def speech_pcm(text: str) -> bytes:
    """espeak-ng speech of ``text`` at 48 kHz s16le mono (a participant's mic rate)."""
    require_binary("espeak-ng")
    return espeak_pcm16(text, sample_rate=MIC_RATE_HZ)


def push_utterance(
    push: Callable[[rtc.AudioFrame], None], pcm: bytes, *, silence_ms: int = 1200
) -> float:
    """Push ``pcm`` then ``silence_ms`` of silence in 10 ms frames; returns speech seconds."""
    silence = bytes(MIC_RATE_HZ * 2 * silence_ms // 1000)
    step = FRAME_SAMPLES * 2
    for chunk in (pcm, silence):
        for i in range(0, len(chunk) - len(chunk) % 2, step):
            data = chunk[i : i + step]
            push(
                rtc.AudioFrame(
                    data=data,
                    sample_rate=MIC_RATE_HZ,
                    num_channels=1,
                    samples_per_channel=len(data) // 2,
                )
            )
    return len(pcm) / 2 / MIC_RATE_HZ


async def collect_generation(gen: llm.GenerationCreatedEvent) -> tuple[str, bytes, int]:
    """Drain one realtime generation: (transcript text, agent PCM, sample rate Hz)."""
    text = ""
    pcm = bytearray()
    rate = 0
    async for message in gen.message_stream:

        async def read_text(msg: llm.MessageGeneration = message) -> str:
            return "".join([str(t) async for t in msg.text_stream])

        async def read_audio(msg: llm.MessageGeneration = message) -> list[rtc.AudioFrame]:
            return [f async for f in msg.audio_stream]

        part_text, frames = await asyncio.gather(read_text(), read_audio())
        text += part_text
        for frame in frames:
            pcm += frame.data.tobytes()
            rate = frame.sample_rate
    return text, bytes(pcm), rate


class Recorder:
    """Records one event of a livekit EventEmitter from construction on."""

    def __init__(self, emitter: Any, event: str) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Event()
        self._emitter = emitter
        self._event = event
        emitter.on(event, self._on_event)

    def _on_event(self, ev: Any) -> None:
        self.events.append(ev)
        self._changed.set()

    async def wait(
        self, predicate: Callable[[Any], bool] | None = None, *, timeout_s: float = 15.0
    ) -> Any:
        """The first recorded event matching ``predicate`` (waits up to ``timeout_s``)."""
        async with asyncio.timeout(timeout_s):
            while True:
                for ev in self.events:
                    if predicate is None or predicate(ev):
                        return ev
                self._changed.clear()
                await self._changed.wait()

    def close(self) -> None:
        self._emitter.off(self._event, self._on_event)


def rms(pcm: bytes) -> float:
    return pcm16_rms(pcm)


class QueueAudioInput(io.AudioInput):
    """An AgentSession audio input fed by :meth:`push` (public livekit-agents I/O API)."""

    def __init__(self) -> None:
        super().__init__(label="test-queue")
        self._frames: asyncio.Queue[rtc.AudioFrame] = asyncio.Queue()

    def push(self, frame: rtc.AudioFrame) -> None:
        self._frames.put_nowait(frame)

    async def __anext__(self) -> rtc.AudioFrame:
        return await self._frames.get()
