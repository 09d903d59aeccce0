"""The room side of a phone call: one LiveKit room, our agent dispatched, one participant.

:class:`CallRoom` knows nothing about carriers. It takes PCM16 audio from the caller
(:meth:`CallRoom.push_caller_audio`), hands the agent's audio to a callback as PCM16
frames, forwards DTMF both ways, relays ``omnivoice.events`` room events, and notices
when the agent leaves. :class:`~omnivoice_rtc.shim.bridge.CallBridge` wires one of these
to a carrier WebSocket.

Audio is mono 16-bit signed little-endian PCM at :attr:`RoomAudioOptions.publish_rate_hz`
(caller -> room) and :attr:`RoomAudioOptions.subscribe_rate_hz` (agent -> carrier); livekit
rtc converts to and from the 48 kHz Opus of the room (see docs/benchmarks.md "Shim" for why
carrier-rate publishing was chosen).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Final, Literal

from livekit import api, rtc

from ..livekit.event_relay import EVENTS_TOPIC, decode_event_packet
from ..livekit.ffi_router import ffi_router
from ..settings import LiveKitSettings
from ..types import Event, EventType

__all__ = [
    "EVENTS_TOPIC",
    "CallRoom",
    "RoomAudioOptions",
    "RoomCallbacks",
    "call_participant_identity",
    "call_room_name",
    "dtmf_code",
]

logger = logging.getLogger(__name__)

AGENT_STATE_ATTRIBUTE: Final = "lk.agent.state"

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_MAX_ID_CHARS: Final = 64

_DTMF_CODES: Final[dict[str, int]] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
}


def _sanitise(value: str) -> str:
    cleaned = _NAME_UNSAFE.sub("-", value).strip("-")[:_MAX_ID_CHARS]
    if not cleaned:
        raise ValueError(f"call id {value!r} has no usable characters")
    return cleaned


def call_room_name(carrier: str, call_id: str) -> str:
    """``call-<carrier>-<id>`` with anything outside ``[A-Za-z0-9_-]`` replaced by ``-``."""
    return f"call-{_sanitise(carrier)}-{_sanitise(call_id)}"


def call_participant_identity(carrier: str, call_id: str) -> str:
    """``pstn-<carrier>-<id>``: the caller's identity in the room (derived from the call,
    never chosen by the caller, so it cannot replace someone else)."""
    return f"pstn-{_sanitise(carrier)}-{_sanitise(call_id)}"


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
    """The agent participant left the room (or never joined in time)."""
    on_disconnected: Callable[[], None] = lambda: None
    """Our own connection to the room ended."""


@dataclass(slots=True)
class _AgentLink:
    identity: str = ""
    state: str = ""
    stream_task: asyncio.Task[None] | None = None
    audio_frames: int = 0
    left: bool = False
    seen: asyncio.Event = field(default_factory=asyncio.Event)


class CallRoom:
    """One call's room: created with our agent dispatched, joined as the caller.

    Lifecycle: ``await start()`` (creates the room, dispatches the agent, connects,
    publishes the caller track), then ``push_caller_audio`` per frame, then
    ``await aclose()`` (leaves and deletes the room; idempotent).
    """

    def __init__(
        self,
        *,
        livekit: LiveKitSettings,
        room_name: str,
        identity: str,
        attributes: dict[str, str],
        agent_name: str,
        audio: RoomAudioOptions | None = None,
        callbacks: RoomCallbacks | None = None,
        participant_kind: Literal["sip", "standard"] = "sip",
        agent_join_timeout_s: float = 20.0,
    ) -> None:
        self._livekit = livekit
        self.room_name = room_name
        self.identity = identity
        self._attributes = dict(attributes)
        self._agent_name = agent_name
        self.audio = audio or RoomAudioOptions()
        self._cb = callbacks or RoomCallbacks()
        self._kind = participant_kind
        self._agent_join_timeout_s = agent_join_timeout_s
        self._room = rtc.Room()
        self._source: rtc.AudioSource | None = None
        self._router = ffi_router()  # once: capture runs 100 times a second per call
        self._agent = _AgentLink()
        self._tasks: set[asyncio.Task[None]] = set()
        self._room_created = False
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def room(self) -> rtc.Room:
        return self._room

    @property
    def agent_identity(self) -> str:
        """The agent's identity once it has joined, else ``""``."""
        return self._agent.identity

    @property
    def agent_state(self) -> str:
        """The agent's ``lk.agent.state`` (``""`` until known)."""
        return self._agent.state

    def _api(self) -> api.LiveKitAPI:
        return api.LiveKitAPI(
            url=self._livekit.http_url,
            api_key=self._livekit.api_key,
            api_secret=self._livekit.api_secret,
        )

    def _token(self) -> str:
        return (
            api.AccessToken(self._livekit.api_key, self._livekit.api_secret)
            .with_identity(self.identity)
            .with_name(self._attributes.get("from", self.identity))
            .with_kind(self._kind)
            .with_attributes(self._attributes)
            .with_grants(
                api.VideoGrants(
                    room_join=True,
                    room=self.room_name,
                    can_publish=True,
                    can_subscribe=True,
                    can_publish_data=True,
                )
            )
            .to_jwt()
        )

    async def start(self) -> None:
        """Create the room with the agent dispatched, join it and publish the caller track."""
        lk = self._api()
        try:
            await lk.room.create_room(
                api.CreateRoomRequest(name=self.room_name, empty_timeout=30, departure_timeout=5)
            )
            self._room_created = True
            # An explicit dispatch, not CreateRoomRequest.agents: livekit-server 1.13 honours
            # the latter only for the first room of a worker session (measured in tests).
            await lk.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(agent_name=self._agent_name, room=self.room_name)
            )
        finally:
            await lk.aclose()
        self._wire_room_events()
        await self._room.connect(
            self._livekit.url, self._token(), options=rtc.RoomOptions(auto_subscribe=True)
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

    async def aclose(self) -> None:
        """Stop every task, leave the room and delete it. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        if self._agent.stream_task is not None:
            tasks.append(self._agent.stream_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):  # reason: best effort; the room is deleted next
            await self._room.disconnect()
        if self._source is not None:
            await self._source.aclose()
        if self._room_created:
            await self.delete_room()

    async def delete_room(self) -> None:
        """Delete the room (removes the agent too); a room already gone is fine."""
        lk = self._api()
        try:
            await lk.room.delete_room(api.DeleteRoomRequest(room=self.room_name))
        except api.TwirpError as exc:
            if exc.code != api.TwirpErrorCode.NOT_FOUND:
                logger.warning(
                    "room delete failed", extra={"room": self.room_name, "error": str(exc)}
                )
        finally:
            await lk.aclose()

    def _spawn(self, coro: Coroutine[None, None, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ media

    async def push_caller_audio(self, pcm: bytes) -> None:
        """Publish caller audio (PCM16 mono at ``publish_rate_hz``, a whole number of 10 ms)."""
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

    def clear_caller_audio(self) -> None:
        """Drop caller audio queued in the AudioSource but not yet sent."""
        if self._source is not None:
            self._source.clear_queue()

    async def send_dtmf(self, digit: str) -> None:
        """Publish a caller keypress into the room (agents see ``sip_dtmf_received``)."""
        await self._room.local_participant.publish_dtmf(code=dtmf_code(digit), digit=digit)

    async def send_data(self, payload: bytes, *, topic: str) -> None:
        """Send a reliable data message to the agent only (or the room if it is unknown)."""
        targets = [self._agent.identity] if self._agent.identity else None
        await self._room.local_participant.publish_data(
            payload, reliable=True, topic=topic, destination_identities=targets or []
        )

    # ------------------------------------------------------------------ room events

    def _wire_room_events(self) -> None:
        room = self._room
        room.on("participant_connected", self._consider_participant)
        room.on("track_subscribed", self._on_track_subscribed)
        room.on("participant_disconnected", self._on_participant_disconnected)
        room.on("participant_attributes_changed", self._on_attributes_changed)
        room.on("sip_dtmf_received", self._on_dtmf)
        room.on("data_received", self._on_data)
        room.on("disconnected", lambda *_: self._cb.on_disconnected())
        room.register_text_stream_handler(EVENTS_TOPIC, self._on_text_stream)

    @staticmethod
    def _is_agent(participant: rtc.Participant) -> bool:
        return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT

    def _consider_participant(self, participant: rtc.RemoteParticipant) -> None:
        if not self._is_agent(participant) or self._agent.identity:
            return
        self._agent.identity = participant.identity
        self._agent.state = participant.attributes.get(AGENT_STATE_ATTRIBUTE, "")
        self._agent.seen.set()
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
        if participant.identity != self._agent.identity or self._agent.stream_task is not None:
            return
        stream = rtc.AudioStream.from_track(
            track=track,
            sample_rate=self.audio.subscribe_rate_hz,
            num_channels=1,
            frame_size_ms=self.audio.frame_ms,
        )
        if self._router is not None:
            self._router.route_stream(stream)
        self._agent.stream_task = asyncio.ensure_future(self._pump_agent_audio(stream))

    async def _pump_agent_audio(self, stream: rtc.AudioStream) -> None:
        try:
            async for event in stream:
                self._agent.audio_frames += 1
                self._cb.on_agent_audio(bytes(event.frame.data.cast("B")))
        finally:
            await stream.aclose()
            if self._router is not None:
                self._router.unroute_stream(stream)

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity != self._agent.identity or self._agent.left:
            return
        self._agent.left = True
        logger.info("agent left the call room", extra={"room": self.room_name})
        self._cb.on_agent_left()

    def _on_attributes_changed(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if participant.identity != self._agent.identity or AGENT_STATE_ATTRIBUTE not in changed:
            return
        old, self._agent.state = self._agent.state, changed[AGENT_STATE_ATTRIBUTE]
        if old != self._agent.state:
            self._cb.on_agent_state(old, self._agent.state)

    def _on_dtmf(self, dtmf: rtc.SipDTMF) -> None:
        sender = dtmf.participant
        if sender is not None and sender.identity == self.identity:
            return  # our own caller digits echoed back
        if sender is not None and self._agent.identity and sender.identity != self._agent.identity:
            return
        self._cb.on_agent_dtmf(dtmf.digit)

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        self._deliver_event_json(packet.data)

    def _on_text_stream(self, reader: rtc.TextStreamReader, sender_identity: str) -> None:
        self._spawn(self._read_text_stream(reader))

    async def _read_text_stream(self, reader: rtc.TextStreamReader) -> None:
        self._deliver_event_json((await reader.read_all()).encode())

    def _deliver_event_json(self, raw: bytes) -> None:
        try:
            event, participant, _session_id = decode_event_packet(raw)
        except ValueError as exc:
            logger.warning("bad omnivoice event from agent", extra={"error": str(exc)})
            return
        if participant and participant != self.identity:
            return  # a session the agent runs for someone else in this room
        if event.type is EventType.INTERRUPTION:
            logger.debug("agent interruption event", extra={"room": self.room_name})
        self._cb.on_event(event)

    async def _watch_agent_join(self) -> None:
        try:
            await asyncio.wait_for(self._agent.seen.wait(), self._agent_join_timeout_s)
        except TimeoutError:
            logger.warning("agent did not join the call room", extra={"room": self.room_name})
            self._agent.left = True
            self._cb.on_agent_left()
