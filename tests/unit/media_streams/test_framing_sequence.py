"""Framer (carrier-sized outbound frames) and StreamSequencer (inbound order)."""

from __future__ import annotations

import pytest

from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.media_streams import Connected, Media, Start, Stop
from omnivoice_rtc.media_streams.framing import Framer
from omnivoice_rtc.media_streams.sequence import StreamSequencer

pytestmark = pytest.mark.unit

START = Start(call_id="CA1", stream_id="MZ1", media_format=TWILIO, wire_encoding="audio/x-mulaw")
MEDIA = Media(payload=b"\xff" * 160)


def test_framer_yields_whole_frames_and_keeps_remainder() -> None:
    framer = Framer(frame_bytes=640)
    assert framer.push(bytes(600)) == []
    frames = framer.push(bytes(range(256)) * 3)  # 600 + 768 = 1368 = 2 frames + 88
    assert [len(f) for f in frames] == [640, 640]
    assert frames[0] == bytes(600) + bytes(range(40))
    assert framer.pending == 88
    last = framer.flush()
    assert last is not None
    assert len(last) == 640
    assert last.endswith(bytes(552))
    assert framer.flush() is None


def test_framer_clear_and_mulaw_padding() -> None:
    framer = Framer(frame_bytes=160)
    framer.push(b"\x01" * 10)
    framer.clear()
    assert framer.pending == 0
    framer.push(b"\x01" * 10)
    assert framer.flush(silence=b"\xff") == b"\x01" * 10 + b"\xff" * 150
    with pytest.raises(ValueError, match=r"^Framer.frame_bytes: must be > 0, got 0$"):
        Framer(frame_bytes=0)


def test_twilio_order() -> None:
    seq = StreamSequencer(carrier="twilio")
    seq.check(Connected(protocol="Call"))
    with pytest.raises(ValueError, match=r"^twilio: 'media' before start$"):
        seq.check(MEDIA)
    seq.check(START)
    seq.check(MEDIA)
    with pytest.raises(ValueError, match=r"^twilio: second 'start'$"):
        seq.check(START)
    seq.check(Stop())
    assert seq.phase == "stopped"
    with pytest.raises(ValueError, match=r"^twilio: 'media' after stop$"):
        seq.check(MEDIA)


def test_vonage_needs_connected_first() -> None:
    seq = StreamSequencer(carrier="vonage")
    with pytest.raises(ValueError, match=r"^vonage: 'media' before connected$"):
        seq.check(MEDIA)
    seq.check(Connected())
    seq.check(MEDIA)
    with pytest.raises(ValueError, match=r"^vonage: second 'connected'$"):
        seq.check(Connected())


def test_plivo_start_first() -> None:
    seq = StreamSequencer(carrier="plivo")
    seq.check(START)
    assert seq.started
    seq.check(MEDIA)
