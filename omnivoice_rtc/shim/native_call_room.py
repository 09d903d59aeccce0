"""The room side of a phone call, joined by the ``omnivoice-media`` process.

Same contract as :class:`~omnivoice_rtc.shim.rtc_call_room.CallRoom`; the participant lives in the
native media process (:mod:`omnivoice_rtc.native`), reached over one Unix socket
connection per call. Caller audio at 8 kHz is published as G.711 μ-law (forwarded by the
SFU untouched, decoded by the agent's libwebrtc); at other rates as Opus. The agent's Opus
is decoded there straight to ``subscribe_rate_hz``. This module turns the process's
messages into the base class's agent tracking and the callbacks.

Agent liveness: the process relays the agent's audio as its RTP packets arrive (a live
agent's track sends at least one Opus DTX packet every 400 ms even when silent), so an
agent whose audio stopped for :attr:`~omnivoice_rtc.settings.CallSettings.agent_silence_limit_s`
counts as dead (the base class's check); the SDK the process uses has no RPC to ping with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.calls.control_wire import CALL_CONTROL_TOPIC
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.native.messages import (
    AgentAudio,
    AttributesChanged,
    CallerAudio,
    DataReceived,
    Disconnected,
    DtmfReceived,
    ErrorNotice,
    Join,
    Joined,
    Participant,
    ParticipantLeft,
    SendData,
    SendDtmf,
    WireMessage,
    decode,
    receive,
)
from omnivoice_rtc.native.wire import read_message
from omnivoice_rtc.shim.call_room import (
    EVENTS_TOPIC,
    CallRoomBase,
    CallRoomSpec,
    RoomCallbacks,
    dtmf_code,
)

__all__ = ["NativeCallRoom", "NativeMediaOptions"]

logger = logging.getLogger(__name__)

_DRAIN_ABOVE_BYTES: Final = 64 * 1024
"""Wait for the socket only once this much is buffered (a frame is a few hundred bytes)."""


class NativeMediaOptions:
    """How calls use the native media process."""

    __slots__ = ("join_timeout_s", "opus_complexity", "process")

    def __init__(
        self,
        *,
        process: NativeMediaProcess,
        opus_complexity: int = 5,
        join_timeout_s: float = 20.0,
    ) -> None:
        if not 0 <= opus_complexity <= 10:
            raise ValueError(f"opus_complexity {opus_complexity} is not between 0 and 10")
        self.process = process
        self.opus_complexity = opus_complexity
        """Opus encoder complexity (0-10) for caller audio not at 8 kHz (8 kHz is G.711)."""
        self.join_timeout_s = join_timeout_s


class NativeCallRoom(CallRoomBase):
    """A call room joined by ``omnivoice-media``; see the module docstring."""

    def __init__(
        self,
        *,
        spec: CallRoomSpec,
        native: NativeMediaOptions,
        callbacks: RoomCallbacks | None = None,
    ) -> None:
        super().__init__(spec=spec, callbacks=callbacks)
        self._native = native
        self._writer: asyncio.StreamWriter | None = None
        self._disconnected = False
        self.codec = ""
        """The caller track's codec as published: ``pcmu`` or ``opus``."""

    async def start(self) -> None:
        socket_path = await self._native.process.socket_path()
        await self._create_room()
        reader, self._writer = await asyncio.open_unix_connection(socket_path)
        self._send(
            Join(
                url=self.spec.livekit.url,
                token=self._token(),
                publish_rate_hz=self.audio.publish_rate_hz,
                subscribe_rate_hz=self.audio.subscribe_rate_hz,
                frame_ms=self.audio.frame_ms,
                opus_complexity=self._native.opus_complexity,
            )
        )
        try:
            answer = await asyncio.wait_for(receive(reader), self._native.join_timeout_s)
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            raise StackError(f"omnivoice-media: no answer to join ({type(exc).__name__})") from exc
        except ValueError as exc:
            raise StackError(f"omnivoice-media: bad answer to join: {exc}") from exc
        if isinstance(answer, ErrorNotice):
            raise StackError(f"omnivoice-media: join failed: {answer.error}")
        if not isinstance(answer, Joined):
            raise StackError(f"omnivoice-media: expected joined, got {answer.KIND.value!r}")
        self.codec = answer.codec
        for participant in answer.participants:
            self._on_participant(participant)
        self._spawn(self._read_messages(reader))
        self._spawn(self._watch_agent_join())
        self._spawn(self._watch_agent_alive())

    async def aclose(self) -> None:
        """Stop the tasks, close the connection (the media process leaves the room), delete
        the room; each step runs whatever the others did, each one bounded."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._cancel_tasks([])
            if self._writer is not None:
                self._writer.close()  # the media process leaves the room
                await self._bounded("media connection close", self._writer.wait_closed())
        finally:
            await self._end_room()

    # ------------------------------------------------------------------ media

    def _send(self, message: Join | CallerAudio | SendDtmf | SendData) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(message.encode())

    async def push_caller_audio(self, pcm: bytes) -> None:
        if self._writer is None or self._closed:
            return
        self._send(CallerAudio(pcm=pcm))
        if self._writer.transport.get_write_buffer_size() > _DRAIN_ABOVE_BYTES:
            with contextlib.suppress(ConnectionError):  # reason: the reader reports it
                await self._writer.drain()

    async def send_dtmf(self, digit: str) -> None:
        self._send(SendDtmf(code=dtmf_code(digit), digit=digit))

    async def send_data(
        self, payload: bytes, *, topic: str, destinations: tuple[str, ...] = ()
    ) -> None:
        targets = destinations or ((self._agent.identity,) if self._agent.identity else ())
        self._send(SendData(topic=topic, destinations=targets, payload=payload))

    # ------------------------------------------------------------------ messages

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, payload = await read_message(reader)
                try:
                    message = decode(kind, payload)
                except ValueError as exc:  # one bad message, not the call
                    logger.warning(
                        "bad message from omnivoice-media",
                        extra={"kind": kind.name, "error": str(exc)},
                    )
                    continue
                self._dispatch(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the process closed the call: reported below
        except ValueError as exc:  # the framing itself is broken: the call cannot go on
            logger.error("bad message from omnivoice-media", extra={"error": str(exc)})
        self._report_disconnected()

    def _report_disconnected(self) -> None:
        if not self._closed and not self._disconnected:
            self._disconnected = True
            self._cb.on_disconnected()

    def _dispatch(self, message: WireMessage) -> None:
        match message:
            case AgentAudio():
                self._note_agent_audio()
                self._cb.on_agent_audio(message.pcm)
            case DataReceived():
                if message.topic == EVENTS_TOPIC:
                    self._deliver_event_json(message.payload)
                elif message.topic == CALL_CONTROL_TOPIC:
                    self._cb.on_call_control(message.identity, message.payload)
            case Participant():
                self._on_participant(message)
            case ParticipantLeft():
                self._participant_left(message.identity)
            case AttributesChanged():
                self._attributes_changed(message.identity, dict(message.changed))
            case DtmfReceived():
                self._dtmf_received(message.identity or None, message.digit)
            case Disconnected():
                logger.info(
                    "native media left the room",
                    extra={"room": self.room_name, "reason": message.reason},
                )
                self._report_disconnected()
            case _:
                logger.warning(
                    "unexpected message from omnivoice-media",
                    extra={"kind": message.KIND.name},
                )

    def _on_participant(self, participant: Participant) -> None:
        if participant.kind == "agent":
            self._note_agent(participant.identity, dict(participant.attributes))
