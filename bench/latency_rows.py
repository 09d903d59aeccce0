"""What every row of bench/latency.py shares: the caller a row talks through, the row's
results, and the "no clipped words" check.

:class:`CallerClient` is what a turn needs from a caller (speak, and the agent's audio as
heard with its times); :class:`RecordingClient` is the WebRTC caller (a room participant),
:class:`bench.latency_twilio_caller.TwilioCaller` the Twilio Media Streams caller.
:func:`head_arrived` checks a received reply against the sent one at the row's rate.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from livekit import rtc

from bench.pipeline import AGENT_RATE_HZ
from tests.integration.agent.voice_client import AgentAudioFrame, VoiceClient

__all__ = [
    "HEAD_MIN_CORR",
    "HEAD_MS",
    "HEAD_SLACK_MS",
    "CallerClient",
    "RecordingClient",
    "Row",
    "head_arrived",
]

HEAD_MS = 50  # the head of every reply that must arrive (no clipped words)
HEAD_SLACK_MS = 20  # where the head is searched around the whole reply's alignment
HEAD_MIN_CORR = 0.6  # normalized correlation of the received head with the sent one


class CallerClient(Protocol):
    """A caller as a turn uses it. Times are ``time.monotonic()`` seconds; agent audio
    is recorded in frames (:class:`AgentAudioFrame`) at the time the caller hears it."""

    agent_audio: list[AgentAudioFrame]

    async def say(self, pcm: np.ndarray, *, wait: bool = True) -> float:
        """Speak ``pcm`` (int16 at 48000 Hz) in real time; returns when it ended."""
        ...

    def first_agent_audio_after(self, t: float) -> float | None: ...

    def last_agent_audio(self) -> float | None: ...

    def audio_between(self, start: float, end: float) -> np.ndarray:
        """The agent's samples heard between ``start`` and ``end`` (int16 at the row's rate)."""
        ...

    async def aclose(self) -> None: ...


class RecordingClient(VoiceClient):
    """A :class:`VoiceClient` that also keeps the agent's samples (at ``AGENT_RATE_HZ``)
    with their arrival times (monotonic s), for the clipped-words check."""

    def __init__(self, *, url: str, token: str) -> None:
        super().__init__(url=url, token=token)
        self.chunks: list[tuple[float, np.ndarray]] = []

    async def _record(self, track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=AGENT_RATE_HZ, num_channels=1)
        try:
            async for ev in stream:
                now = time.monotonic()
                samples = np.frombuffer(ev.frame.data, dtype=np.int16).copy()
                as_float = samples.astype(np.float64)
                rms = float(np.sqrt(np.mean(as_float**2))) if samples.size else 0.0
                self.agent_audio.append(AgentAudioFrame(now, rms, ev.frame.duration))
                self.chunks.append((now, samples))
        finally:
            await stream.aclose()

    def audio_between(self, start: float, end: float) -> np.ndarray:
        parts = [s for t, s in self.chunks if start <= t <= end]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def head_arrived(
    reply: np.ndarray,
    received: np.ndarray,
    *,
    head_ms: int = HEAD_MS,
    rate_hz: int = AGENT_RATE_HZ,
) -> bool:
    """True when the first ``head_ms`` ms of speech in ``reply`` (int16 at ``rate_hz``)
    are in ``received`` (same rate) with a normalized correlation >= ``HEAD_MIN_CORR``.

    The whole reply is aligned by cross-correlation first (one clear peak), so a reply
    whose head was cut is not mistaken for one that arrived late."""
    if received.size < reply.size // 2:
        return False
    ref = reply.astype(np.float64)
    got = received.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(ref.size + got.size)))
    corr = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(ref, n)), n)
    lag = int(np.argmax(corr[: got.size]))  # reply[i] ~ received[i + lag]
    loud = np.flatnonzero(np.abs(ref) > 300)
    if loud.size == 0:
        return True
    head_start = int(loud[0])
    head_len = rate_hz * head_ms // 1000
    ref_head = ref[head_start : head_start + head_len]
    best = 0.0
    # the receiver's jitter buffer stretches and squeezes audio (NetEq accelerate/expand),
    # so the head is searched within HEAD_SLACK_MS of where the whole reply puts it
    slack = rate_hz * HEAD_SLACK_MS // 1000
    for shift in range(-slack, slack + 1):
        at = lag + head_start + shift
        if at < 0 or at + head_len > got.size:
            continue
        seg = got[at : at + head_len]
        denom = float(np.linalg.norm(seg) * np.linalg.norm(ref_head))
        if denom > 0:
            best = max(best, float(np.dot(seg, ref_head)) / denom)
    if os.environ.get("BENCH_LATENCY_DEBUG"):
        whole = got[lag : lag + ref.size]
        full = float(np.dot(whole, ref[: whole.size])) / max(
            float(np.linalg.norm(whole) * np.linalg.norm(ref[: whole.size])), 1.0
        )
        print(f"head: lag {lag}, whole corr {full:.2f}, head corr {best:.2f}", file=sys.stderr)
    return best >= HEAD_MIN_CORR


@dataclass
class Row:
    """One route and peer: its caller and what its turns measured.

    ``reference``: the reply as this row's caller should hear it (int16 at ``rate_hz``),
    for the clipped-words check; None = the pre-rendered reply itself (24000 Hz)."""

    route: str
    peer: str
    client: CallerClient
    samples_ms: list[float] = field(default_factory=list)
    heads_ok: int = 0
    heads: int = 0
    barge_in_ms: list[float] = field(default_factory=list)  # speech start -> agent audio stops
    cough_completed: list[float] = field(default_factory=list)  # share of the reply heard
    marks: list[tuple[str, float]] = field(default_factory=list)  # (stage, monotonic s)
    stages: dict[str, list[float]] = field(default_factory=dict)  # stage -> ms after end
    reference: np.ndarray | None = None
    rate_hz: int = AGENT_RATE_HZ

    def watch(self, session: Any) -> None:
        """Record when the agent's session changes state (same clock as the client)."""

        def user(ev: Any) -> None:
            self.marks.append((f"user {ev.new_state}", time.monotonic()))

        def agent(ev: Any) -> None:
            self.marks.append((f"agent {ev.new_state}", time.monotonic()))

        session.on("user_state_changed", user)
        session.on("agent_state_changed", agent)

    def mark(self, stage: str) -> None:
        """Record that the agent reached ``stage`` now (peers without session events)."""
        self.marks.append((stage, time.monotonic()))

    def head_ok(self, reply: np.ndarray, received: np.ndarray) -> bool:
        """:func:`head_arrived` with this row's reference and rate."""
        ref = self.reference if self.reference is not None else reply
        return head_arrived(ref, received, rate_hz=self.rate_hz)
