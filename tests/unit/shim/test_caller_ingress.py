"""CallerIngress: the decision for every inbound carrier frame, with a virtual clock."""

from __future__ import annotations

import pytest

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.audio.format import TWILIO, VONAGE, AudioEncoding, AudioFormat
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
from omnivoice_rtc.media_streams.plivo import PlivoCodec
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec
from omnivoice_rtc.shim.audio_path import InboundAudio
from omnivoice_rtc.shim.caller_ingress import (
    MAX_DIGITS_BEFORE_ROOM,
    CallerIngress,
    CarrierError,
    Drop,
    ForwardDigit,
    HoldDigit,
    Ignored,
    MarkEcho,
    PolicyClose,
    Relay,
    StopStream,
)
from omnivoice_rtc.shim.policy import CallCounters, MediaPolicy

pytestmark = pytest.mark.unit

FRAME = b"\xff" * 160
"""20 ms of μ-law at 8 kHz."""
L16_16K = AudioFormat(AudioEncoding.PCM16, 16000)
"""Telnyx's L16 stream format (2 bytes a sample)."""


class _Ingress:
    def __init__(
        self,
        *,
        policy: MediaPolicy | None = None,
        codec: MediaStreamCodec | None = None,
        fmt: AudioFormat | None = None,
    ) -> None:
        self.codec = codec or TwilioCodec(stream_id="MZ1")
        fmt = fmt or self.codec.output_format
        self.clock = VirtualClock()
        self.counters = CallCounters()
        self.machine = CallerIngress(
            codec=self.codec,
            inbound=InboundAudio(carrier_format=fmt, room_rate_hz=fmt.sample_rate),
            policy=policy or MediaPolicy(),
            counters=self.counters,
            clock=self.clock,
        )

    def frame(self, message: object) -> object:
        return self.machine.on_frame(self.codec.serialize(message))  # type: ignore[arg-type]  # reason: any inbound message

    def queued(self) -> list[bytes]:
        out = []
        while (pcm := self.machine.pop_caller_audio()) is not None:
            out.append(pcm)
        return out


def test_audio_is_dropped_until_the_room_is_joined_then_relayed() -> None:
    t = _Ingress()
    assert not t.machine.relaying
    assert t.frame(Media(payload=FRAME)) == Drop("before_room")
    assert t.counters.dropped_before_room == 1
    assert t.machine.room_joined() == []
    assert t.machine.relaying
    assert t.frame(Media(payload=FRAME)) == Relay(payload_bytes=160, room_bytes=320)
    assert (t.counters.frames_in, t.counters.bytes_in) == (1, 160)
    assert [len(pcm) for pcm in t.queued()] == [320]
    assert t.machine.pop_caller_audio() is None


def test_the_real_time_budget_starts_full_when_the_room_is_joined() -> None:
    t = _Ingress(policy=MediaPolicy(burst_ms=100))
    t.clock.advance(5.0)  # a long join: no credit is saved up for it
    t.machine.room_joined()
    decisions = [t.frame(Media(payload=FRAME)) for _ in range(8)]  # 160 ms at once
    assert decisions.count(Drop("too_fast")) == 3
    assert (t.counters.frames_in, t.counters.dropped_too_fast) == (5, 3)
    t.clock.advance(0.040)
    assert isinstance(t.frame(Media(payload=FRAME)), Relay)
    assert isinstance(t.frame(Media(payload=FRAME)), Relay)
    assert t.frame(Media(payload=FRAME)) == Drop("too_fast")


def test_late_frames_are_counted_by_the_gap_since_the_previous_one() -> None:
    t = _Ingress(policy=MediaPolicy(late_gap_ms=60))
    t.machine.room_joined()
    t.frame(Media(payload=FRAME))
    t.clock.advance(0.060)  # exactly the limit: on time
    t.frame(Media(payload=FRAME))
    t.clock.advance(0.061)
    t.frame(Media(payload=FRAME))
    assert (t.counters.frames_in, t.counters.frames_late) == (3, 1)


def test_a_slow_publisher_loses_the_oldest_caller_audio() -> None:
    t = _Ingress(policy=MediaPolicy(inbound_queue_ms=60))  # three 20 ms frames
    t.machine.room_joined()
    for i in range(5):
        t.clock.advance(0.020)
        t.frame(Media(payload=bytes([i]) * 160))
    assert t.counters.dropped_backlog == 2
    assert t.counters.frames_in == 5
    assert len(t.queued()) == 3


@pytest.mark.parametrize("payload", [b"", b"\x00" * 639])
def test_a_vonage_frame_not_of_640_bytes_is_the_wrong_size(payload: bytes) -> None:
    t = _Ingress(codec=VonageCodec(sample_rate=16000))  # FrameSizeError from the codec
    t.machine.room_joined()
    assert t.machine.on_frame(payload) == Drop("wrong_size")
    assert t.counters.dropped_wrong_size == 1
    assert t.counters.dropped_invalid == 0
    t.clock.advance(0.020)
    assert t.machine.on_frame(bytes(640)) == Relay(payload_bytes=640, room_bytes=640)


@pytest.mark.parametrize("payload", [b"", b"\x00" * 321])
def test_empty_or_partial_sample_audio_is_the_wrong_size(payload: bytes) -> None:
    t = _Ingress(codec=TelnyxCodec(stream_id="s1"), fmt=L16_16K)
    t.machine.room_joined()
    assert t.frame(Media(payload=payload)) == Drop("wrong_size")
    assert t.counters.dropped_wrong_size == 1
    assert t.frame(Media(payload=bytes(320))) == Relay(payload_bytes=320, room_bytes=320)


def test_invalid_frames_close_1007_at_the_limit_and_nothing_follows() -> None:
    t = _Ingress(policy=MediaPolicy(max_invalid_frames=3))
    t.machine.room_joined()
    assert t.machine.on_frame("{nope") == Drop("invalid")
    assert t.machine.on_frame(b"\x00") == Drop("invalid")  # binary on a text protocol
    assert t.machine.on_frame("[]") == PolicyClose(
        code=1007, message=b"too many invalid frames", reason="policy_invalid_frames"
    )
    assert t.counters.dropped_invalid == 3
    assert t.frame(Media(payload=FRAME)) == Drop("stream_ended")
    assert t.machine.on_frame("{nope") == Drop("stream_ended")
    assert (t.counters.dropped_invalid, t.counters.frames_in) == (3, 0)


def test_a_second_start_or_connected_closes_1008() -> None:
    start = Start(
        call_id="CA1", stream_id="MZ1", media_format=TWILIO, wire_encoding="audio/x-mulaw"
    )
    expected = PolicyClose(code=1008, message=b"second start", reason="policy_second_start")
    assert _Ingress().frame(start) == expected
    vonage = _Ingress(codec=VonageCodec(sample_rate=16000))
    assert vonage.frame(Connected(media_format=VONAGE)) == expected


def test_stop_ends_the_stream() -> None:
    t = _Ingress()
    t.machine.room_joined()
    assert t.frame(Stop()) == StopStream()
    assert t.frame(Media(payload=FRAME)) == Drop("stream_ended")
    assert t.counters.frames_in == 0


def test_digits_are_held_during_the_join_then_forwarded_in_order() -> None:
    t = _Ingress()
    assert t.frame(Dtmf(digit="1")) == HoldDigit("1")
    assert t.frame(Dtmf(digit="#")) == HoldDigit("#")
    assert t.machine.room_joined() == [ForwardDigit("1"), ForwardDigit("#")]
    assert t.machine.room_joined() == []  # handed over once
    assert t.frame(Dtmf(digit="9")) == ForwardDigit("9")
    assert t.counters.dtmf_in == 3


def test_digits_beyond_the_hold_limit_are_dropped() -> None:
    t = _Ingress()
    for _ in range(MAX_DIGITS_BEFORE_ROOM):
        assert t.frame(Dtmf(digit="5")) == HoldDigit("5")
    assert t.frame(Dtmf(digit="6")) == Drop("too_many_held_digits")
    assert len(t.machine.room_joined()) == MAX_DIGITS_BEFORE_ROOM
    assert t.counters.dtmf_in == MAX_DIGITS_BEFORE_ROOM + 1


def test_a_digit_no_room_accepts_is_counted_invalid() -> None:
    t = _Ingress()
    t.machine.room_joined()
    assert t.frame(Dtmf(digit="x")) == Drop("invalid_digit")
    assert (t.counters.dtmf_in, t.counters.dropped_invalid) == (1, 1)


def test_marks_errors_and_acknowledgements() -> None:
    t = _Ingress()
    assert t.frame(Mark(name="ov-3")) == MarkEcho("ov-3")
    telnyx = _Ingress(codec=TelnyxCodec(stream_id="s1"))
    error = Error(code="100003", title="Malformed frame", detail="x")
    assert telnyx.frame(error) == CarrierError(code="100003", title="Malformed frame")
    plivo = _Ingress(codec=PlivoCodec(stream_id="s1"))
    assert plivo.frame(Cleared()) == Ignored("cleared")
