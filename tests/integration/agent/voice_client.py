"""A real LiveKit rtc participant that talks to the agent like a person would.

It publishes a microphone track that always carries audio (speech from WAVs, silence
otherwise, 10 ms frames paced by a catch-up clock), records the agent's audio frames
with their arrival time and RMS level, and decodes the agent's ``omnivoice.events``
data packets. Used by the integration tests and by bench/pipeline.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np
from livekit import api, rtc

from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, decode_event_packet
from omnivoice_rtc.types import Event, EventType

__all__ = [
    "MIC_RATE_HZ",
    "AgentAudioFrame",
    "ReceivedEvent",
    "VoiceClient",
    "espeak_pcm",
    "participant_token",
]

MIC_RATE_HZ = 48000
_FRAME_SAMPLES = MIC_RATE_HZ // 100  # 10 ms
SILENCE_RMS = 100.0
"""Agent audio frames with an RMS (int16 units) above this count as non-silent."""


def espeak_pcm(text: str, *, voice: str = "en-us", wpm: int = 140) -> np.ndarray:
    """espeak-ng speech of ``text`` as int16 mono samples at 48000 Hz."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-s", str(wpm), text],
        check=True,
        capture_output=True,
    ).stdout
    data = wav.find(b"data") + 8
    rate = int.from_bytes(wav[24:28], "little")
    body = wav[data : len(wav) - (len(wav) - data) % 2]
    resampler = rtc.AudioResampler(rate, MIC_RATE_HZ, quality=rtc.AudioResamplerQuality.HIGH)
    out = bytearray()
    for frame in [*resampler.push(bytearray(body)), *resampler.flush()]:
        out += frame.data.tobytes()
    return np.frombuffer(bytes(out), dtype=np.int16).copy()


def participant_token(
    server_key: str,
    server_secret: str,
    *,
    room: str,
    identity: str,
    agent_name: str | None = None,
    hidden: bool = False,
) -> str:
    """A room-join token; with ``agent_name`` the room dispatches that agent when created.

    ``hidden`` participants are invisible to others (the agent serves no session for
    them) but still receive data packets: an observer of ``omnivoice.events``.
    """
    token = (
        api.AccessToken(server_key, server_secret)
        .with_identity(identity)
        .with_grants(api.VideoGrants(room_join=True, room=room, hidden=hidden))
    )
    if agent_name:
        token = token.with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
        )
    return token.to_jwt()


@dataclass(frozen=True, slots=True)
class AgentAudioFrame:
    received_at: float  # time.monotonic() seconds
    rms: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    received_at: float  # time.monotonic() seconds
    event: Event
    participant: str


class VoiceClient:
    """Join ``room`` as ``identity``; call :meth:`aclose` when done."""

    def __init__(self, *, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self.room = rtc.Room()
        self.events: list[ReceivedEvent] = []
        self.agent_audio: list[AgentAudioFrame] = []
        self._pending: deque[np.ndarray] = deque()
        self._speech_done: asyncio.Event = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._source = rtc.AudioSource(MIC_RATE_HZ, 1, queue_size_ms=40)
        self.last_speech_end: float | None = None
        """Monotonic time (s) the last sample of the last utterance leaves the source's
        queue (is sent), not when it was put in."""

    async def connect(self) -> None:
        self.room.on("data_received", self._on_data)
        self.room.on("track_subscribed", self._on_track)
        await self.room.connect(self._url, self._token)
        track = rtc.LocalAudioTrack.create_audio_track("mic", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._spawn(self._mic())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- microphone -------------------------------------------------------------------
    async def _mic(self) -> None:
        silence = np.zeros(_FRAME_SAMPLES, dtype=np.int16)
        next_at = time.monotonic()
        current: np.ndarray | None = None
        offset = 0
        while True:
            ended = False
            if current is None and self._pending:
                current, offset = self._pending.popleft(), 0
            if current is not None:
                chunk = current[offset : offset + _FRAME_SAMPLES]
                offset += _FRAME_SAMPLES
                if len(chunk) < _FRAME_SAMPLES:
                    chunk = np.concatenate([chunk, silence[: _FRAME_SAMPLES - len(chunk)]])
                if offset >= len(current):
                    current = None
                    ended = not self._pending
            else:
                chunk = silence
            await self._source.capture_frame(
                rtc.AudioFrame(chunk.tobytes(), MIC_RATE_HZ, 1, _FRAME_SAMPLES)
            )
            if ended:
                # the last sample is sent when the source's queue has played out to it: a
                # browser or phone sends it as it is captured, with no such queue (the
                # Twilio and SIP callers of the bench count a frame from its sending too)
                self.last_speech_end = time.monotonic() + self._source.queued_duration
                self._speech_done.set()
            next_at += 0.01
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # fell far behind (CPU stall): catch up, don't burst forever
                next_at = time.monotonic()

    async def say(self, pcm: np.ndarray, *, wait: bool = True) -> float:
        """Speak ``pcm`` (int16 @ 48 kHz) in real time; returns when it ended (monotonic)."""
        self._speech_done.clear()
        self._pending.append(pcm)
        if wait:
            await self._speech_done.wait()
            assert self.last_speech_end is not None
            return self.last_speech_end
        return time.monotonic() + len(pcm) / MIC_RATE_HZ

    # -- agent side ---------------------------------------------------------------------
    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, p: rtc.RemoteParticipant
    ) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._spawn(self._record(track))

    async def _record(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=MIC_RATE_HZ, num_channels=1)
        try:
            async for ev in stream:
                samples = np.frombuffer(ev.frame.data, dtype=np.int16).astype(np.float64)
                rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
                self.agent_audio.append(AgentAudioFrame(time.monotonic(), rms, ev.frame.duration))
        finally:
            await stream.aclose()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        event, participant, _session = decode_event_packet(packet.data)
        self.events.append(ReceivedEvent(time.monotonic(), event, participant))
        self._changed.set()

    def agent_speech_seconds(self, *, since: float = 0.0) -> float:
        return sum(
            f.duration_s for f in self.agent_audio if f.received_at >= since and f.rms > SILENCE_RMS
        )

    def first_agent_audio_after(self, t: float) -> float | None:
        for f in self.agent_audio:
            if f.received_at >= t and f.rms > SILENCE_RMS:
                return f.received_at
        return None

    def last_agent_audio(self) -> float | None:
        loud = [f.received_at for f in self.agent_audio if f.rms > SILENCE_RMS]
        return loud[-1] if loud else None

    def event_types(self) -> list[EventType]:
        return [r.event.type for r in self.events]

    async def wait_for_event(
        self,
        kind: EventType,
        *,
        timeout_s: float = 60.0,
        since: float = 0.0,
        where: Callable[[Event], bool] | None = None,
    ) -> ReceivedEvent:
        deadline = time.monotonic() + timeout_s
        while True:
            for r in self.events:
                if (
                    r.received_at >= since
                    and r.event.type is kind
                    and (where is None or where(r.event))
                ):
                    return r
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"no {kind} event within {timeout_s} s; got {self.event_types()}"
                )
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=remaining)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()
        await self._source.aclose()
