"""The playback side of a simulated carrier call (:class:`CarrierPlayout`): what the carrier
does with what our server sends down the media stream.

Part of :mod:`omnivoice_rtc.simulate.carrier_simulator` (its :class:`CarrierSimulator`
starts one when the stream opens and exposes what it records), kept apart to keep that
module short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiohttp
import numpy as np

from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams.messages import (
    Clear,
    Mark,
    MediaStreamCodec,
    SendMark,
    SendMedia,
)

__all__ = ["FRAME_MS", "CarrierPlayout"]

FRAME_MS = 20
"""Media frame duration (ms) of every carrier but Exotel."""


class CarrierPlayout:
    """The carrier's end of one media stream, as heard: decodes outbound media into
    :attr:`received_pcm`, plays it at real time after it arrives (a playout clock),
    echoes each mark once the audio before it has "played", drops queued audio and echoes
    pending marks on a clear (Vonage and Plivo acknowledge the clear), and records every
    command with its arrival time.

    ``codec`` is the stream's codec; the simulator replaces it when the opening messages
    fix the stream's rate (Vonage, Exotel)."""

    def __init__(self, *, carrier: str, stream_id: str, codec: MediaStreamCodec) -> None:
        self.carrier = carrier
        self.stream_id = stream_id
        self.codec = codec
        self.received_pcm = bytearray()
        """Agent audio as decoded PCM16 at the carrier rate."""
        self.commands: list[tuple[float, str]] = []
        """(monotonic time, command type) of everything the shim sent."""
        self.clears: list[float] = []
        self.audio_log: list[tuple[float, float]] = []
        """(monotonic arrival time, RMS) of every outbound media message decoded."""
        self.close_code: int | None = None
        self._ends_at = 0.0
        """Monotonic time (s) the audio received so far has finished playing."""
        self._pending_marks: list[tuple[float, str]] = []
        """(monotonic time due, name) of marks not echoed yet."""
        self._player: StreamConverter | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._marker: asyncio.Task[None] | None = None

    def start(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read ``ws`` (the open media stream) and echo marks until :meth:`aclose`."""
        self._ws = ws
        self._reader = asyncio.ensure_future(self._read())
        self._marker = asyncio.ensure_future(self._echo_marks())

    async def aclose(self) -> None:
        """Stop reading and echoing (the socket stays as it is)."""
        for task in (self._reader, self._marker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def wait_closed(self, timeout_s: float = 15.0) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._reader), timeout_s)
        return self.close_code

    async def _send(self, data: str | bytes) -> None:
        if self._ws is None:
            raise RuntimeError("CarrierSimulator: the stream is not open")
        if isinstance(data, bytes):
            await self._ws.send_bytes(data)
        else:
            await self._ws.send_str(data)

    async def _read(self) -> None:
        if self._ws is None:
            return
        async for msg in self._ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            now = time.monotonic()
            command = self.codec.parse_command(msg.data)
            self.commands.append((now, command.type))
            if isinstance(command, SendMedia):
                self._play(command.payload, now)
            elif isinstance(command, SendMark):
                self._pending_marks.append((max(now, self._ends_at), command.name))
            elif isinstance(command, Clear):
                self.clears.append(now)
                await self._clear()
        self.close_code = self._ws.close_code

    def _play(self, payload: bytes, now: float) -> None:
        if self._player is None or self._player.from_format != self.codec.output_format:
            self._player = StreamConverter(
                from_format=self.codec.output_format,
                to_format=AudioFormat(AudioEncoding.PCM16, self.codec.output_format.sample_rate),
            )
        pcm = self._player.process(payload)
        self.received_pcm += pcm
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
        rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
        self.audio_log.append((now, rms))
        ms = len(payload) / self.codec.output_format.frame_bytes(1)
        self._ends_at = max(self._ends_at, now) + ms / 1000.0

    async def _clear(self) -> None:
        self._ends_at = 0.0
        marks, self._pending_marks = self._pending_marks, []
        for _, name in marks:
            await self._echo(name)
        if self.carrier == "vonage":
            await self._send(json.dumps({"event": "websocket:cleared"}))
        elif self.carrier == "plivo":
            await self._send(json.dumps({"event": "clearedAudio", "streamId": self.stream_id}))

    async def _echo_marks(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            due = [m for m in self._pending_marks if m[0] <= now]
            self._pending_marks = [m for m in self._pending_marks if m[0] > now]
            for _, name in due:
                await self._echo(name)

    async def _echo(self, name: str) -> None:
        if self._ws is None or self._ws.closed:
            return
        mark = Mark(name=name, stream_id=None if self.carrier == "vonage" else self.stream_id)
        await self._send(self.codec.serialize(mark))

    def first_loud_after(self, at: float, *, threshold: float = 500.0) -> float | None:
        """Arrival (monotonic s) of the first outbound media message after ``at`` whose RMS
        exceeds ``threshold`` (the agent's voice, not silence)."""
        return next((t for t, rms in self.audio_log if t >= at and rms > threshold), None)

    def received_seconds(self, *, threshold: float = 500.0) -> float:
        """Seconds of received agent audio whose 20 ms RMS exceeds ``threshold``."""
        rate = self.codec.output_format.sample_rate
        samples = np.frombuffer(bytes(self.received_pcm), dtype=np.int16).astype(np.float64)
        n = rate * FRAME_MS // 1000
        frames = samples[: len(samples) // n * n].reshape(-1, n)
        if not len(frames):
            return 0.0
        loud = np.sqrt((frames**2).mean(axis=1)) > threshold
        return float(loud.sum()) * FRAME_MS / 1000.0
