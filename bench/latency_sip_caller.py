"""A SIP phone for bench/latency.py: the project's SIP user agent
(:class:`~omnivoice_rtc.simulate.sip_caller.SipCaller`: a real INVITE over UDP with a PCMU
+ RFC 4733 offer, ACK, BYE) and RTP peer (:class:`~omnivoice_rtc.simulate.rtp_peer.RtpPeer`:
20 ms PCMU packets paced in real time), as a carrier's trunk delivers a phone call.

The phone sends one 20 ms PCMU packet per 20 ms for the whole call: the user's speech
(resampled from 48 kHz to 8 kHz, μ-law) when it talks, μ-law silence otherwise, as a phone
does. The agent's RTP is recorded as it arrives, decoded to PCM16 at 8000 Hz and cut into
10 ms pieces from the packet's arrival time (no jitter buffer: a phone's adds its own delay,
alike for every SIP row).

The phone runs in its own thread with its own event loop (a phone is another machine; the
bench's agents share the main loop, and a phone stalled with them would send its speech in
bursts and timestamp the agent's audio late).

Timing convention (the same as the WebRTC and Twilio callers'): a packet's 20 ms of speech
count as spoken from the instant it is sent, so the end of the user's speech is the send
time of its last packet plus the speech in it. A real phone sends a 20 ms packet once its
20 ms were spoken, so on a phone mouth-to-ear is up to 20 ms more, alike for every SIP row.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

import numpy as np

from bench.latency_twilio_caller import heard_frames
from omnivoice_rtc.audio.g711 import ulaw_encode
from omnivoice_rtc.simulate.rtp_peer import RtpPeer
from omnivoice_rtc.simulate.sip_caller import SipCaller
from omnivoice_rtc.simulate.speech import resample
from tests.integration.agent.voice_client import MIC_RATE_HZ, SILENCE_RMS, AgentAudioFrame

__all__ = ["PACKET_SAMPLES", "SIP_RATE_HZ", "HeardAudio", "SipPhone", "speech_packets"]

SIP_RATE_HZ: Final = 8000
PACKET_SAMPLES: Final = SIP_RATE_HZ * 20 // 1000
"""One 20 ms PCMU packet: 160 samples, one μ-law byte each."""
_CLOSE_S: Final = 5.0
"""How long the phone's thread may take to finish once closed (s)."""
_T = TypeVar("_T")


def speech_packets(pcm: np.ndarray) -> tuple[bytes, float]:
    """``pcm`` (int16 at 48000 Hz) as μ-law at 8000 Hz (what :meth:`RtpPeer.play` sends in
    160-byte packets, the last padded with silence), and the seconds of speech in that last
    packet (the speech ends that long after the packet is sent)."""
    narrow = resample(pcm.astype(np.int16).tobytes(), MIC_RATE_HZ, SIP_RATE_HZ)
    ulaw = ulaw_encode(narrow)
    tail = len(ulaw) % PACKET_SAMPLES or PACKET_SAMPLES
    return ulaw, (tail / SIP_RATE_HZ if ulaw else 0.0)


class HeardAudio:
    """The agent's audio as the phone received it: 10 ms pieces (int16 at 8000 Hz) with the
    time each is heard (the packet's arrival plus its offset in the packet). Appended from
    the phone's thread, read from the bench's (list appends are atomic)."""

    def __init__(self) -> None:
        self.frames: list[AgentAudioFrame] = []
        self.chunks: list[tuple[float, np.ndarray]] = []

    def add(self, arrived_at: float, samples: np.ndarray) -> None:
        """One received packet's decoded samples, arrived at ``arrived_at`` (monotonic s)."""
        for at, piece in heard_frames(arrived_at, samples, rate_hz=SIP_RATE_HZ):
            as_float = piece.astype(np.float64)
            rms = float(np.sqrt(np.mean(as_float**2))) if piece.size else 0.0
            self.frames.append(AgentAudioFrame(at, rms, piece.size / SIP_RATE_HZ))
            self.chunks.append((at, piece))

    def first_after(self, t: float) -> float | None:
        """When the first non-silent piece at or after ``t`` was heard (None: none yet)."""
        return next(
            (f.received_at for f in self.frames if f.received_at >= t and f.rms > SILENCE_RMS),
            None,
        )

    def last(self) -> float | None:
        """When the last non-silent piece was heard (None: none yet)."""
        return next((f.received_at for f in reversed(self.frames) if f.rms > SILENCE_RMS), None)

    def between(self, start: float, end: float) -> np.ndarray:
        """The samples heard between ``start`` and ``end`` (int16 at 8000 Hz)."""
        parts = [s for t, s in self.chunks if start <= t <= end]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


class _HeardPeer(RtpPeer):
    """An :class:`RtpPeer` that hands every received PCMU packet (decoded) to ``heard``."""

    heard: HeardAudio | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        count, before = len(self.received), len(self.received_pcm)
        super().datagram_received(data, addr)
        if self.heard is None or len(self.received) == count:
            return  # not a PCMU packet
        pcm = bytes(self.received_pcm[before:])
        self.heard.add(self.received[-1].at, np.frombuffer(pcm, dtype=np.int16))


class SipPhone:
    """One SIP call from a random caller number to ``callee`` at livekit-sip's
    ``host:port`` (the trunk must admit ``local_ip`` by address); see the module
    docstring. :meth:`connect` places the call, :meth:`aclose` hangs up.

    Implements bench/latency_rows.py's ``CallerClient``: ``agent_audio`` and
    :meth:`audio_between` are the agent's audio as received (int16 at 8000 Hz)."""

    rate_hz: Final = SIP_RATE_HZ

    def __init__(self, *, host: str, port: int, callee: str, local_ip: str = "127.0.0.1") -> None:
        self._host, self._port, self._callee, self._local_ip = host, port, callee, local_ip
        self.caller = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
        self._heard = HeardAudio()
        self.agent_audio: list[AgentAudioFrame] = self._heard.frames  # the same list
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sip-phone", daemon=True
        )
        self._rtp: _HeardPeer | None = None
        self._sip: SipCaller | None = None
        self._answered = False

    async def _in_phone(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` in the phone's loop (its thread) and wait for it here."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def connect(self) -> None:
        """Start the phone's thread, place the call (SIPCallError when refused) and start
        sending RTP once answered."""
        self._thread.start()
        await self._in_phone(self._connect())

    async def _connect(self) -> None:
        rtp = self._rtp = await _HeardPeer.open(self._local_ip)
        rtp.heard = self._heard
        sip = self._sip = SipCaller(
            host=self._host,
            port=self._port,
            caller=self.caller,
            callee=self._callee,
            rtp_port=rtp.port,
            local_ip=self._local_ip,
        )
        await sip.open()
        remote = await sip.invite()
        self._answered = True
        rtp.start(remote)

    async def say(self, pcm: np.ndarray, *, wait: bool = True) -> float:
        """Speak ``pcm`` (int16 at 48000 Hz) in real time, as 8000 Hz μ-law; returns when
        it ended (monotonic s; without ``wait``, when it will end)."""
        ulaw, tail_s = speech_packets(pcm)
        return await self._in_phone(self._say(ulaw, tail_s, wait=wait))

    async def _say(self, ulaw: bytes, tail_s: float, *, wait: bool) -> float:
        rtp = self._rtp
        assert rtp is not None, "SipPhone: connect() first"
        ends = time.monotonic() + rtp.queued_s() + rtp.play(ulaw)
        if not wait:
            return ends
        return await rtp.wait_sent() + tail_s

    def first_agent_audio_after(self, t: float) -> float | None:
        return self._heard.first_after(t)

    def last_agent_audio(self) -> float | None:
        return self._heard.last()

    def audio_between(self, start: float, end: float) -> np.ndarray:
        return self._heard.between(start, end)

    async def aclose(self) -> None:
        """Hang up (BYE), close the SIP and RTP sockets, then stop the phone's thread."""
        if self._thread.is_alive():
            try:
                await self._in_phone(self._aclose())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                await asyncio.to_thread(self._thread.join, _CLOSE_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _aclose(self) -> None:
        try:
            if self._sip is not None:
                if self._answered:
                    await self._sip.hang_up()
                await self._sip.aclose()
        finally:
            if self._rtp is not None:
                await self._rtp.aclose()
