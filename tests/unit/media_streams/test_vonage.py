"""Vonage codec: binary L16 frames of exactly 320/640 bytes, text control, exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import (
    Clear,
    Cleared,
    Connected,
    Dtmf,
    Mark,
    Media,
    SendMark,
    SendMedia,
    VonageCodec,
)
from omnivoice_rtc.media_streams.vonage import FRAME_BYTES_8K, FRAME_BYTES_16K, content_type

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams" / "vonage"


def _fx(name: str) -> str:
    return (FIX / f"{name}.json").read_text()


def test_frame_sizes() -> None:
    assert (FRAME_BYTES_8K, FRAME_BYTES_16K) == (320, 640)
    assert VonageCodec(sample_rate=8000).frame_bytes == 320
    assert VonageCodec().frame_bytes == 640
    assert content_type(16000) == "audio/l16;rate=16000"


def test_connected_carries_format_and_headers() -> None:
    connected = VonageCodec().parse(_fx("in_connected"))
    assert connected == Connected(
        media_format=AudioFormat(AudioEncoding.PCM16, 16000),
        custom_parameters={"tenant": "acme", "token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
    )
    assert VonageCodec(sample_rate=8000).for_connected(connected).frame_bytes == 640


def test_control_events() -> None:
    codec = VonageCodec()
    assert codec.parse(_fx("in_dtmf")) == Dtmf(digit="5", duration_ms=260)
    nested = codec.parse(_fx("accept_dtmf_nested"))
    assert isinstance(nested, Dtmf)
    assert (nested.digit, nested.duration_ms) == ("7", 100)
    assert codec.parse(_fx("in_notify")) == Mark(name="utt-17")
    reply = codec.parse(_fx("in_notify_reply_id"))
    assert isinstance(reply, Mark)
    assert reply.name == "u17"
    assert codec.parse(_fx("in_cleared")) == Cleared()


def test_binary_audio_both_ways() -> None:
    codec = VonageCodec()
    frame = bytes(range(256)) * 2 + bytes(128)
    assert codec.parse(frame) == Media(payload=frame)
    assert codec.serialize(SendMedia(payload=frame)) == frame
    assert codec.parse_command(frame) == SendMedia(payload=frame, media_format=codec.output_format)
    assert codec.serialize(Clear()) == '{"action":"clear"}'
    assert codec.serialize(SendMark(name="u1")) == '{"action":"notify","payload":{"name":"u1"}}'


@pytest.mark.parametrize("size", [0, 160, 320, 639, 641, 1280])
def test_wrong_frame_sizes_are_rejected_exactly(size: int) -> None:
    codec = VonageCodec()
    expected = f"vonage: audio frame must be exactly 640 bytes (20 ms of L16 at 16000 Hz), got {size} bytes"
    with pytest.raises(ValueError, match=r".") as info:
        codec.parse(bytes(size))
    assert str(info.value) == expected
    with pytest.raises(ValueError, match=r".") as info:
        codec.serialize(SendMedia(payload=bytes(size)))
    assert str(info.value) == expected


def test_8k_frames_must_be_320_bytes() -> None:
    codec = VonageCodec(sample_rate=8000)
    assert codec.parse(bytes(320)) == Media(payload=bytes(320))
    with pytest.raises(ValueError, match=r".") as info:
        codec.parse(bytes(640))
    assert str(info.value) == (
        "vonage: audio frame must be exactly 320 bytes (20 ms of L16 at 8000 Hz), got 640 bytes"
    )


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ('{"event":"websocket:connected"}', "vonage: missing field 'content-type'"),
        (
            '{"event":"websocket:connected","content-type":"audio/l16;rate=24000"}',
            "vonage: unsupported content-type 'audio/l16;rate=24000'",
        ),
        ('{"event":"websocket:dtmf"}', "vonage: missing field 'digit'"),
        ('{"event":"websocket:error"}', "vonage: unknown event 'websocket:error'"),
        ("nope", "vonage: invalid JSON: Expecting value at position 0"),
    ],
)
def test_bad_text_errors_exactly(frame: str, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        VonageCodec().parse(frame)
    assert str(info.value) == message


def test_rate_must_be_8k_or_16k() -> None:
    with pytest.raises(ValueError, match=r".") as info:
        VonageCodec(sample_rate=24000)
    assert str(info.value) == "vonage: sample rate must be 8000 or 16000 Hz, got 24000"
