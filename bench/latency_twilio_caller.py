"""A simulated Twilio caller for bench/latency.py: a real WebSocket client speaking Twilio's
Media Streams protocol, as Twilio's edge does toward a ``<Connect><Stream>`` URL.

It opens the stream (``connected``, then ``start`` with the stream token as a custom
parameter), then sends one ``media`` message per 20 ms for the whole call (base64 μ-law at
8000 Hz, 160 bytes, paced against a real-time clock): the user's speech when it talks,
μ-law silence otherwise. What the agent sends back is played as Twilio plays it
(:class:`omnivoice_rtc.simulate.carrier_playout.CarrierPlayout`: a playout clock that
starts a piece when it arrives or when the audio before it has played, marks echoed once
played, a ``clear`` drops what has not played) and recorded in 10 ms frames at the time
they are heard, decoded to PCM16 at 8000 Hz.

The caller runs in its own thread with its own event loop: the bench's servers (the shim,
the agents, pipecat) share the main loop, and a caller stalled with them would send its
speech in bursts and timestamp the agent's audio late, where a real Twilio edge is another
machine. (A server stalled by the others still sends in bursts; Twilio plays what came
early after what it holds, so that is heard, as it would be.)

Timing convention (the same as the WebRTC caller's 10 ms frames): a frame's 20 ms of
speech count as spoken from the instant the frame is sent, so the end of the user's speech
is the send time of its last frame plus the speech in it. A real phone sends a frame once
its 20 ms were spoken, so on a phone mouth-to-ear is up to 20 ms more, alike for every
Twilio row.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import aiohttp
import numpy as np

from bench.pipeline import AGENT_RATE_HZ
from bench.shim import _open_twilio
from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode
from omnivoice_rtc.media_streams.messages import Media, MediaStreamCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.simulate.carrier_playout import CarrierPlayout
from omnivoice_rtc.simulate.speech import resample
from tests.integration.agent.voice_client import MIC_RATE_HZ, SILENCE_RMS, AgentAudioFrame

__all__ = [
    "ARRIVAL_MARK",
    "FRAME_BYTES",
    "TWILIO_RATE_HZ",
    "HeardPlayout",
    "TwilioCaller",
    "heard_frames",
    "playout_gap_lines",
    "telephone_band",
    "ulaw_frames",
]

TWILIO_RATE_HZ: Final = 8000
FRAME_MS: Final = 20
FRAME_BYTES: Final = TWILIO_RATE_HZ * FRAME_MS // 1000
"""One 20 ms μ-law frame: 160 bytes (one byte per sample)."""
HEARD_FRAME_MS: Final = 10
"""Received agent audio is recorded in pieces of this many ms (as the WebRTC caller's)."""
_SILENCE: Final = ulaw_encode(bytes(2 * FRAME_BYTES))
_CATCH_UP_S: Final = 0.2
"""Behind the clock by more than this (a CPU stall), the clock restarts: no long burst."""
_CLOSE_S: Final = 5.0
"""How long the caller's thread may take to finish once closed (s)."""
_T = TypeVar("_T")
_PAUSE_S: Final = 0.3
"""Agent speech after this long without any (s) is a new reply (for ``ARRIVAL_MARK``)."""
ARRIVAL_MARK: Final = "agent audio arrives at the caller (before its playout)"
_GAP_MS: Final = 1.0
"""A playout that ran dry for less than this (ms) is clock rounding, not a gap."""


def ulaw_frames(pcm: np.ndarray) -> list[tuple[bytes, int]]:
    """``pcm`` (int16 at 8000 Hz) as 20 ms μ-law frames, each with how many of its 160
    samples are ``pcm`` (the last frame is padded with silence)."""
    out: list[tuple[bytes, int]] = []
    for at in range(0, pcm.size, FRAME_BYTES):
        chunk = pcm[at : at + FRAME_BYTES].astype(np.int16)
        real = int(chunk.size)
        if real < FRAME_BYTES:
            chunk = np.concatenate([chunk, np.zeros(FRAME_BYTES - real, dtype=np.int16)])
        out.append((ulaw_encode(chunk.tobytes()), real))
    return out


def heard_frames(
    heard_at: float, samples: np.ndarray, *, rate_hz: int = TWILIO_RATE_HZ
) -> list[tuple[float, np.ndarray]]:
    """``samples`` (int16 at ``rate_hz``) that start playing at ``heard_at`` (monotonic s),
    cut into ``HEARD_FRAME_MS`` pieces, each with the time it starts playing."""
    step = rate_hz * HEARD_FRAME_MS // 1000
    return [
        (heard_at + at / rate_hz, samples[at : at + step]) for at in range(0, samples.size, step)
    ]


def telephone_band(reply: np.ndarray, *, rate_hz: int = AGENT_RATE_HZ) -> np.ndarray:
    """``reply`` (int16 at ``rate_hz``) as a Twilio caller hears it at best: resampled to
    8000 Hz (band-limited to 4 kHz) and through μ-law and back (int16 at 8000 Hz); the
    reference for the clipped-words check of the Twilio rows."""
    narrow = resample(reply.astype(np.int16).tobytes(), rate_hz, TWILIO_RATE_HZ)
    return np.frombuffer(ulaw_decode(ulaw_encode(narrow)), dtype=np.int16).copy()


class HeardPlayout(CarrierPlayout):
    """Twilio's playout (:class:`CarrierPlayout`) that also hands every decoded piece of
    agent audio to ``on_heard`` with the time it arrived and the time it starts playing,
    and tells ``on_clear`` when a ``clear`` drops what has not played yet."""

    def __init__(
        self,
        *,
        stream_id: str,
        codec: MediaStreamCodec,
        on_heard: Callable[[float, float, np.ndarray], None],
        on_clear: Callable[[float], None],
    ) -> None:
        super().__init__(carrier="twilio", stream_id=stream_id, codec=codec)
        self._on_heard = on_heard
        self._on_clear = on_clear
        self.voice_gaps_ms: list[float] = []
        """Each time the playout ran dry between two voiced pieces (ms of silence the caller
        heard inside the agent's speech: a piece that came too late)."""
        self.voiced_s = 0.0
        """Seconds of voiced agent audio played (pieces above ``SILENCE_RMS``)."""
        self._prev_voiced = False

    def _play(self, payload: bytes, now: float) -> None:
        heard_at = max(now, self._ends_at)  # the playout clock before this piece
        ran_dry_ms = (now - self._ends_at) * 1000 if self._ends_at > 0 else 0.0
        before = len(self.received_pcm)
        super()._play(payload, now)
        pcm = bytes(self.received_pcm[before:])
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype=np.int16)
        voiced = self.audio_log[-1][1] > SILENCE_RMS  # the piece's RMS, logged by _play
        if voiced:
            self.voiced_s += samples.size / TWILIO_RATE_HZ
            if self._prev_voiced and ran_dry_ms > _GAP_MS:
                self.voice_gaps_ms.append(ran_dry_ms)
        self._prev_voiced = voiced
        self._on_heard(now, heard_at, samples)

    async def _clear(self) -> None:
        self._on_clear(time.monotonic())
        self._prev_voiced = False  # what follows a clear is a new reply
        await super()._clear()


class TwilioCaller:
    """One simulated Twilio call to ``url`` (the media-stream WebSocket); see the module
    docstring. ``token``: the stream token (``start.customParameters.token``);
    ``stream_id``: the streamSid (empty: a new one); ``marks``: where to note
    (``ARRIVAL_MARK``, monotonic s) when the agent's speech starts arriving after a pause
    (before the playout; a row's stage marks). Call :meth:`aclose` when done.

    Implements bench/latency_rows.py's ``CallerClient``: ``agent_audio`` and
    :meth:`audio_between` are the agent's audio as heard (int16 at 8000 Hz)."""

    rate_hz: Final = TWILIO_RATE_HZ

    def __init__(
        self,
        *,
        url: str,
        call_id: str,
        token: str = "",
        stream_id: str = "",
        marks: list[tuple[str, float]] | None = None,
    ) -> None:
        self._url, self._call_id, self._token, self._stream_id = url, call_id, token, stream_id
        self._marks = marks if marks is not None else []
        self._last_loud: float | None = None
        self.agent_audio: list[AgentAudioFrame] = []
        self.chunks: list[tuple[float, np.ndarray]] = []
        """(time the piece starts playing, int16 samples at 8000 Hz) of the agent's audio."""
        self.last_speech_end: float | None = None
        """Monotonic time the last sample of the last speech ends (see the module docstring)."""
        self._pending: deque[list[tuple[bytes, int]]] = deque()
        self._speech_done = asyncio.Event()  # used in the caller's loop only
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="twilio-caller", daemon=True
        )
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._playout: HeardPlayout | None = None
        self._mic_task: asyncio.Task[None] | None = None

    @property
    def stream_id(self) -> str:
        return self._playout.stream_id if self._playout is not None else self._stream_id

    async def _in_caller(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` in the caller's loop (its thread) and wait for it here."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def connect(self) -> None:
        """Start the caller's thread, open the stream (``connected``, ``start``) and start
        sending and playing."""
        self._thread.start()
        await self._in_caller(self._connect())

    async def _connect(self) -> None:
        self._http = aiohttp.ClientSession()
        self._ws, codec = await _open_twilio(
            self._http,
            self._url,
            call_id=self._call_id,
            token=self._token,
            stream_id=self._stream_id,
        )
        assert codec.stream_id is not None
        self._playout = HeardPlayout(
            stream_id=codec.stream_id, codec=codec, on_heard=self._heard, on_clear=self._cleared
        )
        self._playout.start(self._ws)
        self._mic_task = asyncio.create_task(self._mic(codec), name="twilio-caller.mic")

    # -- the user's side -------------------------------------------------------------------

    async def _mic(self, codec: TwilioCodec) -> None:
        ws = self._ws
        assert ws is not None
        assert codec.stream_id is not None
        current: list[tuple[bytes, int]] = []
        clock = time.monotonic()
        sent = 0
        while not ws.closed:
            if not current and self._pending:
                current = list(self._pending.popleft())
            payload, voiced = current.pop(0) if current else (_SILENCE, 0)
            last = voiced > 0 and not current and not self._pending
            now = time.monotonic()
            media = Media(
                payload=payload,
                stream_id=codec.stream_id,
                track="inbound",
                sequence_number=sent + 2,  # "start" was 1
                chunk=sent + 1,
                timestamp_ms=sent * FRAME_MS,
            )
            await ws.send_str(codec.serialize(media))
            if last:
                self.last_speech_end = now + voiced / TWILIO_RATE_HZ
                self._speech_done.set()
            sent += 1
            delay = clock + sent * FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -_CATCH_UP_S:
                clock = time.monotonic() - sent * FRAME_MS / 1000
        self._speech_done.set()  # the stream closed: a waiting say() must not wait for good

    async def say(self, pcm: np.ndarray, *, wait: bool = True) -> float:
        """Speak ``pcm`` (int16 at 48000 Hz) in real time, as 8000 Hz μ-law; returns when
        it ended (monotonic s; without ``wait``, when it will end)."""
        narrow = resample(pcm.astype(np.int16).tobytes(), MIC_RATE_HZ, TWILIO_RATE_HZ)
        frames = ulaw_frames(np.frombuffer(narrow, dtype=np.int16))
        return await self._in_caller(self._say(frames, wait=wait, seconds=pcm.size / MIC_RATE_HZ))

    async def _say(self, frames: list[tuple[bytes, int]], *, wait: bool, seconds: float) -> float:
        self._speech_done.clear()
        self._pending.append(frames)
        if wait:
            await self._speech_done.wait()
            if self._ws is None or self._ws.closed:
                raise RuntimeError("the Twilio stream closed while the caller was speaking")
            assert self.last_speech_end is not None
            return self.last_speech_end
        return time.monotonic() + seconds

    # -- the agent's side ------------------------------------------------------------------

    def _heard(self, arrived_at: float, heard_at: float, samples: np.ndarray) -> None:
        for at, piece in heard_frames(heard_at, samples):
            as_float = piece.astype(np.float64)
            rms = float(np.sqrt(np.mean(as_float**2))) if piece.size else 0.0
            if rms > SILENCE_RMS:
                if self._last_loud is None or at - self._last_loud > _PAUSE_S:
                    self._marks.append((ARRIVAL_MARK, arrived_at))
                self._last_loud = at
            self.agent_audio.append(AgentAudioFrame(at, rms, piece.size / TWILIO_RATE_HZ))
            self.chunks.append((at, piece))

    def _cleared(self, now: float) -> None:
        """Twilio's ``clear``: audio not played by ``now`` is never heard."""
        self.agent_audio = [f for f in self.agent_audio if f.received_at <= now]
        self.chunks = [c for c in self.chunks if c[0] <= now]

    def voice_gaps(self) -> tuple[list[float], float]:
        """(each gap inside the agent's speech in ms, seconds of agent speech played): see
        :attr:`HeardPlayout.voice_gaps_ms`."""
        if self._playout is None:
            return [], 0.0
        return list(self._playout.voice_gaps_ms), self._playout.voiced_s

    def first_agent_audio_after(self, t: float) -> float | None:
        return next(
            (f.received_at for f in self.agent_audio if f.received_at >= t and f.rms > SILENCE_RMS),
            None,
        )

    def last_agent_audio(self) -> float | None:
        loud = [f.received_at for f in self.agent_audio if f.rms > SILENCE_RMS]
        return loud[-1] if loud else None

    def audio_between(self, start: float, end: float) -> np.ndarray:
        parts = [s for t, s in self.chunks if start <= t <= end]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    async def aclose(self) -> None:
        """Stop sending, close the stream (the call ends) and the HTTP session, then stop
        the caller's thread."""
        if self._thread.is_alive():
            try:
                await self._in_caller(self._aclose())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                await asyncio.to_thread(self._thread.join, _CLOSE_S)
        if not self._thread.is_alive():
            self._loop.close()

    async def _aclose(self) -> None:
        if self._mic_task is not None:
            self._mic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mic_task
        if self._playout is not None:
            await self._playout.aclose()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()


def playout_gap_lines(callers: list[tuple[str, TwilioCaller]]) -> list[str]:
    """bench/latency.py's report lines on the playout gaps inside the agent's speech of
    each ``(row label, caller)``: what a smaller playout cushion risks."""
    lines = []
    for label, caller in callers:
        gaps, voiced_s = caller.voice_gaps()
        longest = f", longest {max(gaps):.0f} ms" if gaps else ""
        lines.append(
            f"- {label}: {len(gaps)} gaps in {voiced_s:.1f} s of agent speech heard "
            f"(total {sum(gaps):.0f} ms{longest})"
        )
    if not lines:
        return []
    return [
        "",
        "Playout gaps inside the agent's speech (Twilio's buffer ran dry between two voiced "
        "pieces):",
        "",
        *lines,
    ]
