"""The room side of a phone call, with livekit rtc (libwebrtc) in this process.

:class:`CallRoom` knows nothing about carriers. It takes PCM16 audio from the caller
(:meth:`CallRoom.push_caller_audio`), hands the agent's audio to a callback as PCM16
frames, forwards DTMF both ways, relays ``omnivoice.events`` room events, and notices
when the agent leaves. :class:`~omnivoice_rtc.shim.call_bridge.CallBridge` wires one of these
to a carrier WebSocket. The room control and agent tracking it shares with
:class:`~omnivoice_rtc.shim.native_call_room.NativeCallRoom` live in
:mod:`omnivoice_rtc.shim.call_room`.

Audio is mono 16-bit signed little-endian PCM at :attr:`RoomAudioOptions.publish_rate_hz`
(caller -> room) and :attr:`RoomAudioOptions.subscribe_rate_hz` (agent -> carrier); livekit
rtc converts to and from the 48 kHz Opus of the room (see docs/benchmarks.md "Shim" for why
carrier-rate publishing was chosen).
"""

from __future__ import annotations

import asyncio

from livekit import rtc

from omnivoice_rtc.calls.control_wire import CALL_CONTROL_TOPIC
from omnivoice_rtc.calls.liveness import ping_agent
from omnivoice_rtc.livekit.ffi_router import ffi_router
from omnivoice_rtc.shim.call_room import (
    AGENT_STATE_ATTRIBUTE,
    EVENTS_TOPIC,
    CallRoomBase,
    CallRoomSpec,
    RoomAudioOptions,
    RoomCallbacks,
    call_participant_identity,
    call_room_name,
    dtmf_code,
)

__all__ = [
    "AGENT_STATE_ATTRIBUTE",
    "EVENTS_TOPIC",
    "CallRoom",
    "CallRoomBase",
    "CallRoomSpec",
    "RoomAudioOptions",
    "RoomCallbacks",
    "call_participant_identity",
    "call_room_name",
    "dtmf_code",
]


class CallRoom(CallRoomBase):
    """A call room joined through livekit rtc: Opus encoded by libwebrtc in this process."""

    _AGENT_CHECK_EVERY_S = None  # a ping per agent_ping_s

    def __init__(self, *, spec: CallRoomSpec, callbacks: RoomCallbacks | None = None) -> None:
        super().__init__(spec=spec, callbacks=callbacks)
        self._room = rtc.Room()
        self._source: rtc.AudioSource | None = None
        self._router = ffi_router()  # once: capture runs 100 times a second per call
        self._stream_task: asyncio.Task[None] | None = None

    @property
    def room(self) -> rtc.Room:
        return self._room

    async def start(self) -> None:
        await self._create_room()
        self._wire_room_events()
        await self._room.connect(
            self.spec.livekit.url, self._token(), options=rtc.RoomOptions(auto_subscribe=True)
        )
        self._source = rtc.AudioSource(
            self.audio.publish_rate_hz, 1, queue_size_ms=self.audio.source_queue_ms
        )
        if not hasattr(self._source, "_ffi_handle"):  # reason: the router names it by handle
            self._router = None  # this livekit rtc changed: use its public calls
        track = rtc.LocalAudioTrack.create_audio_track("caller", self._source)
        await self._room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        for participant in self._room.remote_participants.values():
            self._consider_participant(participant)
        self._spawn(self._watch_agent_join())
        self._spawn(self._watch_agent_alive())

    async def aclose(self) -> None:
        """Stop the tasks, leave the room, release the audio source, delete the room; each
        step runs whatever the others did, each one bounded."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._cancel_tasks([self._stream_task] if self._stream_task else [])
            await self._bounded("room disconnect", self._room.disconnect())
            if self._source is not None:
                await self._bounded("audio source close", self._source.aclose())
        finally:
            await self._end_room()

    async def _agent_answers(self, identity: str, timeout_s: float) -> bool:
        """Ping the agent (an RPC its SDK acknowledges at once while its process lives)."""
        return await ping_agent(self._room.local_participant, identity, timeout_s=timeout_s)

    def _agent_replaced(self, old_identity: str) -> None:
        """Stop relaying the old agent's track; the fresh agent's track is relayed instead."""
        task, self._stream_task = self._stream_task, None
        if task is not None:
            task.cancel()
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ media

    async def push_caller_audio(self, pcm: bytes) -> None:
        if self._source is None or self._closed:
            return
        rate = self.audio.publish_rate_hz
        if self.audio.source_queue_ms:
            if len(pcm) >= 2:
                await self._capture(rtc.AudioFrame(pcm, rate, 1, len(pcm) // 2))
            return
        step = rate // 100 * 2  # direct capture takes 10 ms frames only
        for offset in range(0, len(pcm) - step + 1, step):
            chunk = pcm[offset : offset + step]
            await self._capture(rtc.AudioFrame(chunk, rate, 1, step // 2))

    async def _capture(self, frame: rtc.AudioFrame) -> None:
        """One frame into the caller's AudioSource, through the FFI router when installed."""
        assert self._source is not None
        if self._router is None:
            await self._source.capture_frame(frame)
        else:
            await self._router.capture_frame(self._source, frame)

    async def send_dtmf(self, digit: str) -> None:
        await self._room.local_participant.publish_dtmf(code=dtmf_code(digit), digit=digit)

    async def send_data(
        self, payload: bytes, *, topic: str, destinations: tuple[str, ...] = ()
    ) -> None:
        targets = list(destinations) or ([self._agent.identity] if self._agent.identity else [])
        await self._room.local_participant.publish_data(
            payload, reliable=True, topic=topic, destination_identities=targets
        )

    # ------------------------------------------------------------------ room events

    def _wire_room_events(self) -> None:
        room = self._room
        room.on("participant_connected", self._consider_participant)
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("participant_disconnected", lambda p: self._participant_left(p.identity))
        room.on("participant_attributes_changed", self._on_attributes_changed)
        room.on("sip_dtmf_received", self._on_dtmf)
        room.on("data_received", self._on_data)
        room.on("disconnected", lambda *_: self._cb.on_disconnected())
        room.register_text_stream_handler(EVENTS_TOPIC, self._on_text_stream)

    @staticmethod
    def _is_agent(participant: rtc.Participant) -> bool:
        return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT

    def _consider_participant(self, participant: rtc.RemoteParticipant) -> None:
        if not self._is_agent(participant):
            return
        if self._agent.identity:
            if participant.identity != self._agent.identity:
                self._note_agent(participant.identity, dict(participant.attributes))
            return
        if not self._note_agent(participant.identity, dict(participant.attributes)):
            return  # an agent given up on (replaced)
        for publication in participant.track_publications.values():
            if publication.track is not None and publication.kind == rtc.TrackKind.KIND_AUDIO:
                self._on_track_subscribed(publication.track, publication, participant)

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if track.kind != rtc.TrackKind.KIND_AUDIO or not self._is_agent(participant):
            return
        self._consider_participant(participant)
        if participant.identity != self._agent.identity or self._stream_task is not None:
            return
        stream = rtc.AudioStream.from_track(
            track=track,
            sample_rate=self.audio.subscribe_rate_hz,
            num_channels=1,
            frame_size_ms=self.audio.frame_ms,
        )
        if self._router is not None:
            self._router.route_stream(stream)
        self._stream_task = asyncio.ensure_future(self._pump_agent_audio(stream))

    async def _pump_agent_audio(self, stream: rtc.AudioStream) -> None:
        try:
            async for event in stream:
                self._note_agent_audio()
                self._cb.on_agent_audio(bytes(event.frame.data.cast("B")))
        finally:
            await stream.aclose()
            if self._router is not None:
                self._router.unroute_stream(stream)

    def _on_attributes_changed(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        self._attributes_changed(participant.identity, changed)

    def _on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        sender = dtmf.participant
        self._dtmf_received(sender.identity if sender is not None else None, dtmf.digit)

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic == CALL_CONTROL_TOPIC:
            sender = packet.participant.identity if packet.participant is not None else ""
            self._cb.on_call_control(sender, packet.data)
            return
        if packet.topic != EVENTS_TOPIC:
            return
        self._deliver_event_json(packet.data)

    def _on_text_stream(self, reader: rtc.TextStreamReader, sender_identity: str) -> None:
        self._spawn(self._read_text_stream(reader))

    async def _read_text_stream(self, reader: rtc.TextStreamReader) -> None:
        self._deliver_event_json((await reader.read_all()).encode())
