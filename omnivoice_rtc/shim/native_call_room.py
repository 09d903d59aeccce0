"""The room side of a phone call, joined by the ``omnivoice-media`` process.

Same contract as :class:`~omnivoice_rtc.shim.rtc_call_room.CallRoom`; the participant lives in the
native media process (:mod:`omnivoice_rtc.native`), reached over one Unix socket
connection per call. Caller audio at 8 kHz is published as G.711 μ-law (forwarded by the
SFU untouched, decoded by the agent's libwebrtc); at other rates as Opus. The agent's Opus
is decoded there straight to ``subscribe_rate_hz``. This module turns the process's
messages into the base class's agent tracking and the callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Final

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.native.wire import (
    MessageKind,
    decode_json,
    encode_message,
    join_header,
    read_message,
    split_header,
)
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
        join = {
            "url": self.spec.livekit.url,
            "token": self._token(),
            "publish_rate_hz": self.audio.publish_rate_hz,
            "subscribe_rate_hz": self.audio.subscribe_rate_hz,
            "frame_ms": self.audio.frame_ms,
            "opus_complexity": self._native.opus_complexity,
        }
        self._send(MessageKind.JOIN, json.dumps(join).encode())
        try:
            kind, payload = await asyncio.wait_for(
                read_message(reader), self._native.join_timeout_s
            )
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            raise StackError(f"omnivoice-media: no answer to join ({type(exc).__name__})") from exc
        body = decode_json(payload)
        if kind is MessageKind.ERROR:
            raise StackError(f"omnivoice-media: join failed: {body.get('error', '')}")
        if kind is not MessageKind.JOINED:
            raise StackError(f"omnivoice-media: expected joined, got {kind.value!r}")
        self.codec = str(body.get("codec", ""))
        for participant in body.get("participants", []):
            self._on_participant(participant)
        self._spawn(self._read_messages(reader))
        self._spawn(self._watch_agent_join())

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._cancel_tasks([])
        if self._writer is not None:
            self._writer.close()  # the media process leaves the room
            with contextlib.suppress(OSError):  # reason: the process may be gone already
                await self._writer.wait_closed()
        await self._end_room()

    # ------------------------------------------------------------------ media

    def _send(self, kind: MessageKind, payload: bytes = b"") -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(encode_message(kind, payload))

    async def push_caller_audio(self, pcm: bytes) -> None:
        if self._writer is None or self._closed:
            return
        self._send(MessageKind.CALLER_AUDIO, pcm)
        if self._writer.transport.get_write_buffer_size() > _DRAIN_ABOVE_BYTES:
            with contextlib.suppress(ConnectionError):  # reason: the reader reports it
                await self._writer.drain()

    async def send_dtmf(self, digit: str) -> None:
        payload = json.dumps({"code": dtmf_code(digit), "digit": digit}).encode()
        self._send(MessageKind.SEND_DTMF, payload)

    async def send_data(self, payload: bytes, *, topic: str) -> None:
        targets = [self._agent.identity] if self._agent.identity else []
        self._send(
            MessageKind.SEND_DATA, join_header({"topic": topic, "destinations": targets}, payload)
        )

    # ------------------------------------------------------------------ messages

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, payload = await read_message(reader)
                if kind is MessageKind.AGENT_AUDIO:
                    self._agent.audio_frames += 1
                    self._cb.on_agent_audio(payload)
                    continue
                try:
                    self._dispatch(kind, payload)
                except (ValueError, KeyError, TypeError) as exc:  # one bad message, not the call
                    logger.warning(
                        "bad message from omnivoice-media",
                        extra={"kind": kind.name, "error": repr(exc)},
                    )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the process closed the call: reported below
        except ValueError as exc:
            logger.error("bad message from omnivoice-media", extra={"error": str(exc)})
        self._report_disconnected()

    def _report_disconnected(self) -> None:
        if not self._closed and not self._disconnected:
            self._disconnected = True
            self._cb.on_disconnected()

    def _dispatch(self, kind: MessageKind, payload: bytes) -> None:
        if kind is MessageKind.DATA:
            header, body = split_header(payload)
            if header.get("topic") == EVENTS_TOPIC:
                self._deliver_event_json(body)
            return
        message = decode_json(payload)
        if kind is MessageKind.PARTICIPANT:
            self._on_participant(message)
        elif kind is MessageKind.PARTICIPANT_LEFT:
            self._participant_left(str(message.get("identity", "")))
        elif kind is MessageKind.ATTRIBUTES:
            changed = message.get("changed") or {}
            self._attributes_changed(str(message.get("identity", "")), dict(changed))
        elif kind is MessageKind.DTMF:
            self._dtmf_received(str(message.get("identity", "")) or None, str(message["digit"]))
        elif kind is MessageKind.DISCONNECTED:
            logger.info(
                "native media left the room",
                extra={"room": self.room_name, "reason": message.get("reason", "")},
            )
            self._report_disconnected()
        else:
            logger.warning("unexpected message from omnivoice-media", extra={"kind": kind.name})

    def _on_participant(self, info: dict[str, Any]) -> None:
        if info.get("kind") == "agent":
            self._note_agent(str(info.get("identity", "")), dict(info.get("attributes") or {}))
