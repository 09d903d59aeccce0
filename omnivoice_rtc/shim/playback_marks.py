"""Playback marks: when to ask the carrier to echo a marker, and its echoes (no I/O).

After every ``every_ms`` of agent audio sent, the pump sends a marker (Twilio/Telnyx
``mark``, Vonage ``notify``, Plivo ``checkpoint``); the carrier echoes it once the audio
before it has played (or was cleared). :class:`PlaybackMarks` names the markers
(``ov-1``, ``ov-2``, …), counts ``marks_sent`` / ``marks_acked``, and keeps at most
``max_outstanding`` unanswered markers (a carrier that never echoes cannot grow it).

Mouth-to-ear per turn (:class:`MouthToEar`): the shim notes when the caller's last voiced
frame arrived, and sends a marker (``ov-m2e-1``, …) right after the first voiced frame of
each agent reply. The carrier echoes it once that frame has played, so

    mouth_to_ear_ms = echo arrival - last voiced caller frame arrival - one frame

Both instants are arrivals at the shim of messages the carrier sent on the same WebSocket,
so the carrier -> shim network delay cancels out: the figure is the carrier's own "caller
audio in -> agent audio out" span. Not in it: the caller's phone and the PSTN legs to and
from the carrier (no protocol reports them), and the carrier's playout time beyond its
echo. The bridge sends each figure to the agent (``omnivoice.latency``).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from omnivoice_rtc._clock import MONOTONIC, Clock
from omnivoice_rtc.shim.policy import CallCounters

__all__ = [
    "M2E_MARK_PREFIX",
    "MARK_PREFIX",
    "MAX_OUTSTANDING_MARKS",
    "REPLY_GAP_S",
    "VOICE_PEAK",
    "MouthToEar",
    "PlaybackMarks",
]

MARK_PREFIX: Final = "ov-"
MAX_OUTSTANDING_MARKS: Final = 64
"""Unanswered markers remembered; the oldest is forgotten beyond this."""


class PlaybackMarks:
    """Marker decisions for one call (see the module docstring). ``every_ms`` in ms."""

    __slots__ = ("_clock", "_counters", "_every_ms", "_max", "_outstanding", "_seq", "_since_ms")

    def __init__(
        self,
        *,
        every_ms: int,
        counters: CallCounters,
        clock: Clock = MONOTONIC,
        max_outstanding: int = MAX_OUTSTANDING_MARKS,
    ) -> None:
        if every_ms <= 0:
            raise ValueError(f"PlaybackMarks.every_ms: must be > 0 ms, got {every_ms!r}")
        if max_outstanding < 1:
            raise ValueError(
                f"PlaybackMarks.max_outstanding: must be >= 1, got {max_outstanding!r}"
            )
        self._every_ms = every_ms
        self._counters = counters
        self._clock = clock
        self._max = max_outstanding
        self._outstanding: dict[str, float] = {}  # marker name -> clock reading when sent (s)
        self._seq = 0
        self._since_ms = 0.0

    @property
    def outstanding(self) -> tuple[str, ...]:
        """Markers sent and not echoed yet, oldest first."""
        return tuple(self._outstanding)

    def on_audio_sent(self, ms: float) -> str | None:
        """``ms`` more agent audio went to the carrier; the name of a marker to send now,
        or None. The marker counts as sent (``marks_sent``) when it is returned."""
        self._since_ms += ms
        if self._since_ms < self._every_ms:
            return None
        self._since_ms = 0.0
        self._seq += 1
        name = f"{MARK_PREFIX}{self._seq}"
        self._outstanding[name] = self._clock()
        if len(self._outstanding) > self._max:
            del self._outstanding[next(iter(self._outstanding))]
        self._counters.marks_sent += 1
        return name

    def on_echo(self, name: str) -> float | None:
        """The carrier echoed ``name``: seconds since it was sent (``marks_acked`` counted),
        or None for a marker that is not ours or was forgotten."""
        sent_at = self._outstanding.pop(name, None)
        if sent_at is None:
            return None
        self._counters.marks_acked += 1
        return self._clock() - sent_at

    def reset(self) -> None:
        """After a flush: the next marker comes a full ``every_ms`` of new audio later."""
        self._since_ms = 0.0


M2E_MARK_PREFIX: Final = "ov-m2e-"
VOICE_PEAK: Final = 1500
"""PCM16 frame peak (int16 units, about -27 dBFS) above which a frame is speech. A peak,
not an RMS: ~3 µs per 20 ms frame instead of ~8 (it runs on every frame both ways)."""
REPLY_GAP_S: Final = 0.3
"""Agent audio quiet for this long (s) before a voiced frame: that frame starts a reply."""


def _voiced(pcm: bytes) -> bool:
    samples = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2)
    return samples.size > 0 and int(samples.max()) > VOICE_PEAK


class MouthToEar:
    """Per-turn mouth-to-ear latency of one carrier call (see the module docstring).

    Feed it the caller's PCM16 as it arrives (:meth:`on_caller_audio`) and the agent's
    PCM16 as it comes from the room (:meth:`on_agent_audio`); after each frame the pump
    sends, :meth:`mark_after_frame` names a marker to send (or None), and
    :meth:`on_echo` turns its echo into ms. ``frame_ms``: one carrier frame (ms).
    """

    __slots__ = (
        "_clock",
        "_frame_ms",
        "_last_agent_voice",
        "_last_voice",
        "_onset_pending",
        "_outstanding",
        "_seq",
        "_voice_since_reply",
    )

    def __init__(self, *, frame_ms: float, clock: Clock = MONOTONIC) -> None:
        self._clock = clock
        self._frame_ms = frame_ms
        self._last_voice: float | None = None  # clock (s): last voiced caller frame arrived
        self._voice_since_reply = False  # the caller spoke since the agent's last voiced audio
        self._last_agent_voice: float | None = None
        self._onset_pending: float | None = None  # the caller's voice time for the next mark
        self._outstanding: dict[str, float] = {}
        self._seq = 0

    def on_caller_audio(self, pcm: bytes) -> None:
        if _voiced(pcm):
            self._last_voice = self._clock()
            self._voice_since_reply = True

    def on_agent_audio(self, pcm: bytes) -> None:
        if not _voiced(pcm):
            return
        now = self._clock()
        last, self._last_agent_voice = self._last_agent_voice, now
        if last is not None and now - last < REPLY_GAP_S:
            return  # the same reply goes on
        if self._voice_since_reply and self._last_voice is not None:
            self._onset_pending = self._last_voice
        self._voice_since_reply = False

    def mark_after_frame(self) -> str | None:
        """A marker to send after the frame just sent, when a reply's first voiced frame
        was queued; None otherwise. Unanswered markers are kept up to 8."""
        if self._onset_pending is None:
            return None
        self._seq += 1
        name = f"{M2E_MARK_PREFIX}{self._seq}"
        self._outstanding[name] = self._onset_pending
        self._onset_pending = None
        while len(self._outstanding) > 8:
            del self._outstanding[next(iter(self._outstanding))]
        return name

    def on_echo(self, name: str) -> int | None:
        """The carrier echoed ``name``: that reply's mouth-to-ear latency (ms, >= 1), or
        None for a marker that is not one of ours."""
        voice_at = self._outstanding.pop(name, None)
        if voice_at is None:
            return None
        return max(1, round((self._clock() - voice_at) * 1000 - self._frame_ms))

    def cancel(self) -> None:
        """A flush: the reply's first frame may never play; its marker echo (carriers echo
        cleared markers too) would measure the clear, not the playout."""
        self._outstanding.clear()
        self._onset_pending = None
