"""A stand-in agent for shim room tests: a real livekit rtc participant of kind "agent".

It joins the call room, publishes a tone (so the shim has agent audio to forward),
records the caller's audio and DTMF, and can send events on ``omnivoice.events``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
from livekit import api, rtc

from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, encode_event
from omnivoice_rtc.types import Event
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["AgentPeer", "rms", "tone"]


def tone(*, rate_hz: int, ms: int, freq_hz: float = 440.0, amplitude: int = 8000) -> bytes:
    """A sine tone as PCM16 mono bytes."""
    n = rate_hz * ms // 1000
    t = np.arange(n) / rate_hz
    return (amplitude * np.sin(2 * math.pi * freq_hz * t)).astype(np.int16).tobytes()


def rms(pcm: bytes) -> float:
    """Root-mean-square level of PCM16 bytes."""
    if not pcm:
        return 0.0
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


@dataclass
class AgentPeer:
    server: LiveKitServer
    room_name: str
    identity: str = "agent-peer"
    rate_hz: int = 24000
    room: rtc.Room = field(default_factory=rtc.Room)
    caller_audio: bytearray = field(default_factory=bytearray)
    caller_dtmf: list[str] = field(default_factory=list)
    caller_kind: int | None = None
    caller_attributes: dict[str, str] = field(default_factory=dict)
    _source: rtc.AudioSource | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def join(self) -> None:
        token = (
            api.AccessToken(self.server.api_key, self.server.api_secret)
            .with_identity(self.identity)
            .with_kind("agent")
            .with_grants(
                api.VideoGrants(room_join=True, room=self.room_name, can_update_own_metadata=True)
            )
            .to_jwt()
        )
        self.room.on("track_subscribed", self._on_track)
        self.room.on("sip_dtmf_received", lambda ev: self.caller_dtmf.append(ev.digit))
        await self.room.connect(self.server.url, token)
        self._source = rtc.AudioSource(self.rate_hz, 1, queue_size_ms=200)
        track = rtc.LocalAudioTrack.create_audio_track("agent", self._source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        for participant in self.room.remote_participants.values():
            self.caller_kind = participant.kind
            self.caller_attributes = dict(participant.attributes)

    def _on_track(
        self, track: rtc.Track, _pub: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        self.caller_kind = participant.kind
        self.caller_attributes = dict(participant.attributes)
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            task = asyncio.ensure_future(
                self._record(rtc.AudioStream.from_track(track=track, sample_rate=self.rate_hz))
            )
            self._tasks.add(task)

    async def _record(self, stream: rtc.AudioStream) -> None:
        try:
            async for event in stream:
                self.caller_audio += bytes(event.frame.data.cast("B"))
        finally:
            await stream.aclose()

    async def speak(self, pcm: bytes, *, frame_ms: int = 20) -> None:
        """Publish ``pcm`` (PCM16 at ``rate_hz``) in real time."""
        assert self._source is not None
        step = self.rate_hz * frame_ms // 1000 * 2
        for i in range(0, len(pcm) - step + 1, step):
            chunk = pcm[i : i + step]
            await self._source.capture_frame(
                rtc.AudioFrame(chunk, self.rate_hz, 1, len(chunk) // 2)
            )

    async def send_event(self, event: Event, *, participant: str) -> None:
        payload = encode_event(event, participant=participant, session_id="test")
        await self.room.local_participant.publish_data(payload, reliable=True, topic=EVENTS_TOPIC)

    async def send_dtmf(self, digit: str, code: int) -> None:
        await self.room.local_participant.publish_dtmf(code=code, digit=digit)

    async def set_state(self, state: str) -> None:
        await self.room.local_participant.set_attributes({"lk.agent.state": state})

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.room.disconnect()
        if self._source is not None:
            await self._source.aclose()
