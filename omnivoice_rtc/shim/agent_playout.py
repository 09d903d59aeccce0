"""Agent playout and barge-in: agent audio -> carrier frames, and when to flush (no I/O).

:class:`AgentPlayout` turns the agent's PCM16 into whole carrier frames in a bounded
drop-oldest queue (``outbound_queue_ms``; overflow counted as ``dropped_outbound``) that the
pump (:class:`~.call_bridge.CallBridge`) drains to the socket as fast as it takes them.

Barge-in: the agent's ``lk.agent.state`` leaving ``speaking`` after a ``user_speech_start``
that arrived while it spoke, or its ``interruption`` event, asks for a flush; the answer is
a :class:`Flush` only if audio, not only silence, was sent since the last one (one
barge-in, one clear; the room's silence after a clear, or a resumed reply's, decide it).
:meth:`AgentPlayout.flush` drops what is queued here and a partial frame; the pump sends
the carrier's clear. For ``stale_after_flush_s`` (1 s) after a flush, agent audio is the
interrupted speech still in flight and is dropped (``dropped_outbound``), until the agent
speaks again (state ``speaking``) or keys a digit.

Catching up after a stall: the carrier plays what it is sent at real time and buffers
the rest, so audio sent late in a burst (this process paused, the room's audio came in a
lump) stays ahead of the caller for the rest of the call, and every later stall adds to
it. :class:`AgentPlayout` keeps an estimate of that lead (the audio sent minus the time
gone by, never below zero) and, while it exceeds the playout cushion
(:class:`~.playout_cushion.PlayoutCushion`: 10-60 ms, from how late the agent's audio
arrives; ``MediaPolicy.playout_cushion_ms`` fixes it), does not queue agent audio that is
silence (counted as ``silence_shed``): the lead drains in the agent's pauses instead of
delaying its next reply, and a reply starts behind no more silence than the cushion.
Speech is never dropped for it.

Agent digits have no message in any carrier's media-stream protocol: :meth:`on_agent_dtmf`
queues the digit's tone pair (in-band, after what is queued) and counts ``dtmf_out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from omnivoice_rtc._clock import MONOTONIC, Clock
from omnivoice_rtc.audio.dtmf import dtmf_tone
from omnivoice_rtc.shim.audio_path import OutboundAudio
from omnivoice_rtc.shim.frame_queue import FrameQueue
from omnivoice_rtc.shim.playout_cushion import PlayoutCushion
from omnivoice_rtc.shim.policy import CallCounters, MediaPolicy
from omnivoice_rtc.types import EventType

__all__ = ["SILENCE_PEAK", "STALE_AFTER_FLUSH_S", "AgentPlayout", "Flush"]

SILENCE_PEAK: Final = 64
"""A chunk of agent PCM16 whose samples all stay within this magnitude is silence (the
agent's decoded track between replies is exact zeros or Opus comfort noise near it)."""

STALE_AFTER_FLUSH_S: Final = 1.0
"""After a flush, agent audio is treated as the interrupted speech's tail for this long (s)
unless the agent starts speaking again."""

_SPEAKING: Final = "speaking"


@dataclass(frozen=True, slots=True)
class Flush:
    """Flush the carrier's playback now (barge-in), for ``reason``."""

    reason: str


class AgentPlayout:
    """One call's agent -> carrier audio (see the module docstring).

    ``outbound`` converts and re-cuts agent PCM16 into carrier frames; ``counters`` are the
    call's (updated here); ``clock`` gives monotonic seconds.
    """

    __slots__ = (
        "_clock",
        "_counters",
        "_cushion",
        "_frames_out_at_flush",
        "_lead_at_s",
        "_lead_ms",
        "_out",
        "_queue",
        "_room_bytes_per_ms",
        "_stale_after_s",
        "_stale_until_s",
        "_user_spoke_over_agent",
        "_voiced_since_flush",
        "frame_ms",
        "last_flush_at",
    )

    def __init__(
        self,
        *,
        outbound: OutboundAudio,
        policy: MediaPolicy,
        counters: CallCounters,
        clock: Clock = MONOTONIC,
        stale_after_flush_s: float = STALE_AFTER_FLUSH_S,
    ) -> None:
        self._out = outbound
        self._counters = counters
        self._clock = clock
        self._stale_after_s = stale_after_flush_s
        fmt = outbound.carrier_format
        self.frame_ms: float = (
            outbound.frame_bytes * 1000 / (fmt.sample_rate * fmt.bytes_per_sample)
        )
        """Duration of one carrier frame (ms)."""
        self._queue = FrameQueue(max_frames=max(1, int(policy.outbound_queue_ms // self.frame_ms)))
        self._stale_until_s: float | None = None
        self._user_spoke_over_agent = False
        self._frames_out_at_flush = 0
        self._voiced_since_flush = False
        self._lead_ms = 0.0
        self._lead_at_s = clock()
        self._cushion = PlayoutCushion(fixed_ms=policy.playout_cushion_ms, clock=clock)
        self._room_bytes_per_ms = outbound.room_rate_hz * 2 / 1000
        self.last_flush_at: float | None = None
        """Clock reading (s) of the last flush, None before the first."""

    # ------------------------------------------------------------------ audio

    def on_agent_audio(self, pcm: bytes) -> bool:
        """One agent frame (PCM16 at the room rate) -> carrier frames in the queue.

        Returns True when frames wait to be sent (wake the sender). Dropped (counted in
        ``dropped_outbound``) while the stale window after a flush is open.
        """
        self._cushion.on_arrival(len(pcm) / self._room_bytes_per_ms)
        if self._stale_until_s is not None:
            if self._clock() < self._stale_until_s:
                self._counters.dropped_outbound += 1
                return False
            self._stale_until_s = None
        silent = _is_silence(pcm)
        if silent and self.ahead_ms() > self._cushion.target_ms():
            self._counters.silence_shed += 1
            return bool(self._queue)
        self._voiced_since_flush |= not silent
        return self._queue_pcm(pcm)

    def _queue_pcm(self, pcm: bytes) -> bool:
        for frame in self._out.convert(pcm):
            if not self._queue.push(frame):
                self._counters.dropped_outbound += 1  # the oldest frame went
        return bool(self._queue)

    def cushion_ms(self) -> float:
        """The playout cushion now (ms; :class:`~.playout_cushion.PlayoutCushion`)."""
        return self._cushion.target_ms()

    def ahead_ms(self) -> float:
        """How far ahead of real time the carrier's playback is estimated to be, counting
        what is queued here (ms)."""
        return self._decayed_lead_ms() + len(self._queue) * self.frame_ms

    def _decayed_lead_ms(self) -> float:
        now = self._clock()
        self._lead_ms = max(0.0, self._lead_ms - (now - self._lead_at_s) * 1000)
        self._lead_at_s = now
        return self._lead_ms

    def on_announcement(self, pcm: bytes) -> bool:
        """Our own audio for the caller (the apology when no agent is left), PCM16 at the
        room rate: queued like agent audio but never taken for a flushed tail. Returns True
        when frames wait to be sent."""
        self._stale_until_s = None
        self._voiced_since_flush = True
        return self._queue_pcm(pcm)

    def on_agent_dtmf(self, digit: str) -> bool:
        """The agent keyed ``digit`` for the caller: its tone pair (100 ms, then 60 ms of
        silence) joins the queue after what is there. False when the digit has no tone."""
        try:
            tone = dtmf_tone(digit, sample_rate_hz=self._out.room_rate_hz)
        except ValueError:
            return False
        self._counters.dtmf_out += 1
        self._stale_until_s = None  # the agent is talking to the line again
        self._voiced_since_flush = True
        self._queue_pcm(tone)  # its gap is part of the digit: never shed
        return True

    def pop_frame(self) -> bytes | None:
        """The next carrier frame to send, or None when the queue is empty."""
        return self._queue.pop()

    def frame_sent(self, payload: bytes) -> None:
        """The pump sent ``payload`` (one carrier frame) to the carrier."""
        self._counters.frames_out += 1
        self._counters.bytes_out += len(payload)
        self._lead_ms = self._decayed_lead_ms() + self.frame_ms

    # ------------------------------------------------------------------ barge-in

    def on_agent_event(self, event_type: EventType, *, agent_state: str) -> Flush | None:
        """An ``omnivoice.events`` event from the agent, whose ``lk.agent.state`` is
        ``agent_state``: ``user_speech_start`` while it speaks marks a possible barge-in
        (see :meth:`on_agent_state`); ``interruption`` flushes unless that already
        happened."""
        if event_type is EventType.USER_SPEECH_START:
            self._user_spoke_over_agent = agent_state == _SPEAKING
        elif event_type is EventType.INTERRUPTION:
            return self._flush_once("interruption")
        return None

    def on_agent_state(self, old: str, new: str) -> Flush | None:
        """``lk.agent.state`` changed: the agent stopped speaking because the caller talked
        over it -> flush what the carrier still buffers (``interruption`` comes later)."""
        if new == _SPEAKING:
            self._user_spoke_over_agent = False
            self._stale_until_s = None
        elif old == _SPEAKING and self._user_spoke_over_agent:
            return self._flush_once("agent_interrupted")
        return None

    def _flush_once(self, reason: str) -> Flush | None:
        """A flush unless nothing, or only silence, was sent since the last one (one
        barge-in, one clear; the room's silence after a clear needs none)."""
        if self._counters.frames_out == self._frames_out_at_flush or not self._voiced_since_flush:
            return None
        self._frames_out_at_flush = self._counters.frames_out
        self._voiced_since_flush = False
        return Flush(reason)

    def flush(self) -> int:
        """Drop queued agent audio and a partial frame, open the stale window, count the
        flush. The pump sends the carrier's clear. Returns the frames dropped here."""
        now = self._clock()
        self._stale_until_s = now + self._stale_after_s
        dropped = self._queue.clear()
        self._out.reset()
        self._lead_ms = 0.0  # the carrier's clear empties its buffer
        self._counters.flushes += 1
        self.last_flush_at = now
        return dropped


def _is_silence(pcm: bytes) -> bool:
    """True when every PCM16 sample of ``pcm`` is within :data:`SILENCE_PEAK`."""
    if len(pcm) < 2:
        return True
    samples = memoryview(pcm)[: len(pcm) // 2 * 2].cast("h")
    return max(samples) <= SILENCE_PEAK and min(samples) >= -SILENCE_PEAK
