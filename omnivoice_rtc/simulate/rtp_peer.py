"""A real RTP endpoint (PCMU/8000 + RFC 4733 telephone-event): the phone's media side of a
simulated SIP call (``omnivoice-rtc simulate sip``) and of the SIP e2e tests.

The signaling is someone else's (:mod:`omnivoice_rtc.simulate.sip_caller`, or SIPp in the
tests); their SDP names this peer's UDP port as the media port.
The peer sends 20 ms PCMU packets continuously (silence between utterances, like a
phone), plays μ-law speech when asked, sends RFC 4733 DTMF events, and keeps the RMS
of every PCMU packet it receives (so a test can see the agent's answer arrive) and the
decoded audio (:attr:`RtpPeer.received_pcm`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import struct
import time
from dataclasses import dataclass
from typing import Self, cast

import numpy as np

from omnivoice_rtc.audio.g711 import ulaw_decode

__all__ = ["PCMU", "TELEPHONE_EVENT", "Received", "RtpPeer"]

PCMU = 0
TELEPHONE_EVENT = 101
_FRAME_SAMPLES = 160  # 20 ms at 8000 Hz
_FRAME_S = 0.020
_SILENCE = b"\xff" * _FRAME_SAMPLES  # μ-law zero
_DTMF_CODES = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    "A": 12,
    "B": 13,
    "C": 14,
    "D": 15,
}

_DIGIT_OF_EVENT = {code: digit for digit, code in _DTMF_CODES.items()}


@dataclass(frozen=True, slots=True)
class _Packet:
    payload_type: int
    payload: bytes
    marker: bool = False
    dtmf_event: int = -1  # >= 0: part of a telephone-event; its timestamp stays fixed
    dtmf_end: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """One received PCMU packet: arrival (time.monotonic() s) and RMS (int16 units)."""

    at: float
    rms: float


class RtpPeer(asyncio.DatagramProtocol):
    """UDP RTP endpoint on 127.0.0.1; open with :meth:`open`, close with :meth:`aclose`."""

    def __init__(self) -> None:
        self._transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.received: list[Received] = []
        self.received_pcm = bytearray()
        """Every received PCMU packet decoded to PCM16 at 8000 Hz, in arrival order."""
        self.other_payload_types: collections.Counter[int] = collections.Counter()
        self.received_digits: list[str] = []
        """RFC 4733 digits received (one per event, on its first packet), in order."""
        self._event_timestamps: set[int] = set()
        self._queue: collections.deque[_Packet] = collections.deque()
        self._sender: asyncio.Task[None] | None = None
        self._seq = random.randrange(1 << 16)
        self._ts = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)
        self._event_ts: int | None = None
        self.queue_sent_at: float | None = None
        """When the last packet of the queue was sent (time.monotonic() s; None: never)."""
        self._queue_sent = asyncio.Event()

    @classmethod
    async def open(cls, host: str = "127.0.0.1") -> Self:
        loop = asyncio.get_running_loop()
        _transport, peer = await loop.create_datagram_endpoint(cls, local_addr=(host, 0))
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    @property
    def port(self) -> int:
        assert self._transport is not None
        return int(self._transport.get_extra_info("sockname")[1])

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        csrc_count = data[0] & 0x0F
        offset = 12 + 4 * csrc_count
        if data[0] & 0x10 and len(data) >= offset + 4:  # header extension
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        payload_type = data[1] & 0x7F
        payload = data[offset:]
        if payload_type == TELEPHONE_EVENT and len(payload) >= 4:
            timestamp = struct.unpack_from("!I", data, 4)[0]
            if timestamp not in self._event_timestamps:  # an event's packets share it
                self._event_timestamps.add(timestamp)
                digit = _DIGIT_OF_EVENT.get(payload[0])
                if digit is not None:
                    self.received_digits.append(digit)
        if payload_type != PCMU:
            self.other_payload_types[payload_type] += 1
            return
        pcm = ulaw_decode(payload)
        self.received_pcm += pcm
        samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
        rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
        self.received.append(Received(at=time.monotonic(), rms=rms))

    def start(self, remote: tuple[str, int]) -> None:
        """Start sending to ``remote`` (20 ms packets, silence unless speech is queued)."""
        self.remote = remote
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_loop())

    def play(self, ulaw: bytes) -> float:
        """Queue μ-law speech; returns its duration in s."""
        for start in range(0, len(ulaw), _FRAME_SAMPLES):
            frame = ulaw[start : start + _FRAME_SAMPLES].ljust(_FRAME_SAMPLES, b"\xff")
            self._queue.append(_Packet(PCMU, frame))
        return len(ulaw) / 8000

    def queued_s(self) -> float:
        return len(self._queue) * _FRAME_S

    async def wait_sent(self) -> float:
        """Wait until every queued packet was sent (the sender must be started); returns
        when the last one was (time.monotonic() s; now if nothing was ever queued)."""
        while self._queue:
            self._queue_sent.clear()
            await self._queue_sent.wait()
        return self.queue_sent_at if self.queue_sent_at is not None else time.monotonic()

    def send_dtmf(self, digit: str, *, duration_ms: int = 200, volume: int = 10) -> None:
        """Queue one RFC 4733 event: ``duration_ms`` of updates, then 3 end packets."""
        event = _DTMF_CODES[digit.upper()]
        steps = max(1, duration_ms // 20)
        for step in range(1, steps + 1):
            payload = struct.pack("!BBH", event, volume & 0x3F, step * _FRAME_SAMPLES)
            self._queue.append(
                _Packet(TELEPHONE_EVENT, payload, marker=step == 1, dtmf_event=event)
            )
        end = struct.pack("!BBH", event, 0x80 | (volume & 0x3F), steps * _FRAME_SAMPLES)
        for _ in range(3):
            self._queue.append(_Packet(TELEPHONE_EVENT, end, dtmf_event=event, dtmf_end=True))

    def loud_packets(self, *, since: float, threshold_rms: float = 300.0) -> int:
        """PCMU packets received after ``since`` (monotonic s) louder than ``threshold_rms``."""
        return sum(1 for r in self.received if r.at >= since and r.rms > threshold_rms)

    def first_loud_after(self, at: float, *, threshold_rms: float = 300.0) -> float | None:
        """Arrival time (monotonic s) of the first loud PCMU packet after ``at``."""
        return next((r.at for r in self.received if r.at >= at and r.rms > threshold_rms), None)

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            queued = bool(self._queue)
            packet = self._queue.popleft() if queued else _Packet(PCMU, _SILENCE)
            self._send(packet)
            if queued and not self._queue:
                self.queue_sent_at = time.monotonic()
                self._queue_sent.set()
            next_at += _FRAME_S
            await asyncio.sleep(max(0.0, next_at - loop.time()))  # catches up after a stall

    def _send(self, packet: _Packet) -> None:
        if packet.dtmf_event >= 0:
            if self._event_ts is None:
                self._event_ts = self._ts
            timestamp = self._event_ts
        else:
            if self._event_ts is not None:  # the event is over: audio resumes after it
                self._event_ts = None
            timestamp = self._ts
        if packet.dtmf_event < 0 or not packet.dtmf_end:
            self._ts = (self._ts + _FRAME_SAMPLES) & 0xFFFFFFFF
        header = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if packet.marker else 0) | packet.payload_type,
            self._seq,
            timestamp,
            self._ssrc,
        )
        self._seq = (self._seq + 1) & 0xFFFF
        if self._transport is not None and self.remote is not None:
            self._transport.sendto(header + packet.payload, self.remote)

    async def aclose(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        if self._transport is not None:
            self._transport.close()
