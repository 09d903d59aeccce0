"""Caller ingress: what to do with each frame the carrier sends (a state machine, no I/O).

:class:`CallerIngress` parses one carrier frame with the stream's codec and decides:

=====================  ===================================================================
decision               when
=====================  ===================================================================
:class:`Relay`         audio accepted: converted to room PCM16 and queued for the room
:class:`Drop`          audio or a digit not relayed, with the reason (counted, see below)
:class:`HoldDigit`     a caller digit while the room is being joined (forwarded once joined)
:class:`ForwardDigit`  a caller digit to publish into the room now
:class:`MarkEcho`      the carrier echoed a playback marker (for :mod:`.playback_marks`)
:class:`StopStream`    the carrier said the stream stopped
:class:`PolicyClose`   close the socket with ``code`` (1007 too many invalid frames,
                       1008 a second start)
:class:`CarrierError`  the carrier reported an error on the stream (log it)
:class:`Ignored`       nothing to do (a flush acknowledgement)
=====================  ===================================================================

Audio, in order: wrong size (empty, not whole samples, :class:`FrameSizeError` from the
codec) -> ``dropped_wrong_size``; before the room is joined -> ``dropped_before_room``; ahead
of real time beyond ``burst_ms`` -> ``dropped_too_fast``; else counted in ``frames_in`` /
``bytes_in`` (a gap over ``late_gap_ms`` since the previous frame -> ``frames_late``) and
queued; a full queue drops its oldest frame (``dropped_backlog``). Unparseable frames ->
``dropped_invalid``, and the ``max_invalid_frames``-th closes with 1007. After a stop or a
policy close nothing more is relayed. The pump (:class:`~.call_bridge.CallBridge`) executes
the decisions and drains :meth:`CallerIngress.pop_caller_audio` into the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from omnivoice_rtc._clock import MONOTONIC, Clock
from omnivoice_rtc._errors import FrameSizeError
from omnivoice_rtc.media_streams.messages import (
    Cleared,
    Connected,
    Dtmf,
    Error,
    Mark,
    Media,
    MediaStreamCodec,
    Start,
    Stop,
)
from omnivoice_rtc.shim.audio_path import FRAME_MS, InboundAudio
from omnivoice_rtc.shim.call_room import dtmf_code
from omnivoice_rtc.shim.frame_queue import FrameQueue
from omnivoice_rtc.shim.policy import (
    CLOSE_INVALID_DATA,
    CLOSE_POLICY,
    CallCounters,
    MediaPolicy,
    RealTimeBudget,
)

__all__ = [
    "MAX_DIGITS_BEFORE_ROOM",
    "CallerIngress",
    "CarrierError",
    "Drop",
    "DropReason",
    "ForwardDigit",
    "HoldDigit",
    "Ignored",
    "IngressDecision",
    "MarkEcho",
    "PolicyClose",
    "Relay",
    "StopStream",
]

MAX_DIGITS_BEFORE_ROOM: Final = 16
"""Caller digits held while the room is being joined (more are dropped: nobody is there)."""

DropReason: TypeAlias = Literal[
    "invalid",
    "wrong_size",
    "before_room",
    "too_fast",
    "invalid_digit",
    "too_many_held_digits",
    "stream_ended",
]
"""Why a frame was not relayed. The first five are counted (``dropped_invalid`` for
``invalid`` and ``invalid_digit``, else ``dropped_<reason>``); a digit beyond
:data:`MAX_DIGITS_BEFORE_ROOM` and frames after the stream ended are not."""


@dataclass(frozen=True, slots=True)
class Relay:
    """Caller audio queued for the room: ``payload_bytes`` from the carrier became
    ``room_bytes`` of PCM16 (wake the publisher)."""

    payload_bytes: int
    room_bytes: int


@dataclass(frozen=True, slots=True)
class Drop:
    """The frame is not relayed, for ``reason``."""

    reason: DropReason


@dataclass(frozen=True, slots=True)
class HoldDigit:
    """A caller digit that arrived during the room join; :meth:`CallerIngress.room_joined`
    returns it for forwarding."""

    digit: str


@dataclass(frozen=True, slots=True)
class ForwardDigit:
    """Publish this caller digit into the room now."""

    digit: str


@dataclass(frozen=True, slots=True)
class MarkEcho:
    """The carrier echoed playback marker ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class StopStream:
    """The carrier said the stream stopped: end the call (reason ``carrier_stop``)."""


@dataclass(frozen=True, slots=True)
class PolicyClose:
    """Close the socket with ``code`` and ``message``; the call ends with ``reason``."""

    code: int
    message: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class CarrierError:
    """The carrier reported a stream error (Telnyx ``error``)."""

    code: str
    title: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to do for this ``message`` type (e.g. ``cleared``, a flush acknowledged)."""

    message: str


IngressDecision: TypeAlias = (
    Relay
    | Drop
    | HoldDigit
    | ForwardDigit
    | MarkEcho
    | StopStream
    | PolicyClose
    | CarrierError
    | Ignored
)

_SECOND_START: Final = PolicyClose(
    code=CLOSE_POLICY, message=b"second start", reason="policy_second_start"
)
_TOO_MANY_INVALID: Final = PolicyClose(
    code=CLOSE_INVALID_DATA, message=b"too many invalid frames", reason="policy_invalid_frames"
)


class CallerIngress:
    """Decisions for one call's inbound frames (see the module docstring).

    ``codec`` is bound to the stream; ``inbound`` converts carrier payloads to room PCM16;
    ``counters`` are the call's (updated here); ``clock`` gives monotonic seconds.
    """

    __slots__ = (
        "_budget",
        "_clock",
        "_codec",
        "_counters",
        "_ended",
        "_held",
        "_in",
        "_last_in_s",
        "_policy",
        "_queue",
        "_relaying",
        "last_media_at",
    )

    def __init__(
        self,
        *,
        codec: MediaStreamCodec,
        inbound: InboundAudio,
        policy: MediaPolicy,
        counters: CallCounters,
        clock: Clock = MONOTONIC,
    ) -> None:
        self._codec = codec
        self._in = inbound
        self._policy = policy
        self._counters = counters
        self._clock = clock
        self._budget = RealTimeBudget(burst_ms=policy.burst_ms, clock=clock)
        self._queue = FrameQueue(max_frames=max(1, policy.inbound_queue_ms // FRAME_MS))
        self._held: list[str] = []
        self._last_in_s: float | None = None
        self._relaying = False
        self._ended = False
        self.last_media_at = clock()
        """Clock reading (s) of the last audio frame from the carrier (relayed or not);
        when the ingress was made before the first. The media-inactivity timeout reads it."""

    @property
    def relaying(self) -> bool:
        """True once the room is joined (:meth:`room_joined`)."""
        return self._relaying

    def room_joined(self) -> list[ForwardDigit]:
        """The room is joined: relay from now on (the real-time budget starts full now).
        Returns the digits held during the join, in order, to forward."""
        self._relaying = True
        self._budget = RealTimeBudget(burst_ms=self._policy.burst_ms, clock=self._clock)
        held = [ForwardDigit(digit) for digit in self._held]
        self._held.clear()
        return held

    def pop_caller_audio(self) -> bytes | None:
        """The oldest queued room PCM16 frame, or None when the queue is empty."""
        return self._queue.pop()

    def on_frame(self, frame: str | bytes) -> IngressDecision:
        """Decide what to do with one frame from the carrier."""
        if self._ended:
            return Drop("stream_ended")
        try:
            message = self._codec.parse(frame)
        except FrameSizeError:
            self._counters.dropped_wrong_size += 1
            return Drop("wrong_size")
        except ValueError:
            return self._invalid()
        match message:
            case Media():
                self.last_media_at = self._clock()
                return self._on_media(message.payload)
            case Dtmf():
                return self._on_digit(message.digit)
            case Mark():
                return MarkEcho(message.name)
            case Stop():
                self._ended = True
                return StopStream()
            case Start() | Connected():
                self._ended = True
                return _SECOND_START
            case Error():
                return CarrierError(code=message.code, title=message.title)
            case Cleared():
                return Ignored(message.type)

    def _invalid(self) -> Drop | PolicyClose:
        self._counters.dropped_invalid += 1
        if self._counters.dropped_invalid >= self._policy.max_invalid_frames:
            self._ended = True
            return _TOO_MANY_INVALID
        return Drop("invalid")

    def _on_media(self, payload: bytes) -> Relay | Drop:
        counters = self._counters
        if not payload or not self._in.is_whole_samples(payload):
            counters.dropped_wrong_size += 1
            return Drop("wrong_size")
        if not self._relaying:
            counters.dropped_before_room += 1
            return Drop("before_room")
        if not self._budget.take(self._in.ms_of(payload)):
            counters.dropped_too_fast += 1
            return Drop("too_fast")
        now = self._clock()
        if self._last_in_s is not None and (now - self._last_in_s) * 1000.0 > (
            self._policy.late_gap_ms
        ):
            counters.frames_late += 1
        self._last_in_s = now
        counters.frames_in += 1
        counters.bytes_in += len(payload)
        pcm = self._in.convert(payload)
        if not self._queue.push(pcm):
            counters.dropped_backlog += 1  # the publisher fell behind: the oldest went
        return Relay(payload_bytes=len(payload), room_bytes=len(pcm))

    def _on_digit(self, digit: str) -> ForwardDigit | HoldDigit | Drop:
        self._counters.dtmf_in += 1
        try:
            dtmf_code(digit)
        except ValueError:
            self._counters.dropped_invalid += 1
            return Drop("invalid_digit")
        if self._relaying:
            return ForwardDigit(digit)
        if len(self._held) >= MAX_DIGITS_BEFORE_ROOM:
            return Drop("too_many_held_digits")
        self._held.append(digit)
        return HoldDigit(digit)
