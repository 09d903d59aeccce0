"""Exotel codec: typed fields from documented frames and exact errors on bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import (
    Clear,
    Connected,
    Dtmf,
    ExotelCodec,
    Mark,
    Media,
    SendMark,
    SendMedia,
    Start,
    Stop,
)
from omnivoice_rtc.media_streams.exotel import MEDIA_FORMAT, media_format

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams" / "exotel"
SID = "MZ9f6c2c3e5d4b4f1a8e7d6c5b4a392817"
CALL = "CA0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def _fx(name: str) -> str:
    return (FIX / f"{name}.json").read_text()


def test_frame_facts() -> None:
    assert AudioFormat(AudioEncoding.PCM16, 8000) == MEDIA_FORMAT
    assert MEDIA_FORMAT.frame_bytes(100) == 1600  # 100 ms: five times the 320-byte unit
    assert media_format(24000).frame_bytes(100) == 4800
    with pytest.raises(ValueError, match=r"^exotel: sample rate must be 8000, 16000 or 24000"):
        media_format(44100)


def test_parse_documented_frames() -> None:
    codec = ExotelCodec()
    assert codec.parse(_fx("in_connected")) == Connected()
    start = codec.parse(_fx("in_start"))
    assert isinstance(start, Start)
    assert (start.call_id, start.stream_id) == (CALL, SID)
    assert start.account_id == "exotel-test-account"
    assert start.custom_parameters == {"token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
    assert start.media_format == MEDIA_FORMAT
    assert start.wire_encoding == "audio/x-raw"
    assert start.details == {"from": "+919876543210", "to": "+918047491899"}
    assert start.sequence_number == 1
    media = codec.parse(_fx("in_media"))
    assert isinstance(media, Media)
    assert (media.sequence_number, media.chunk, media.timestamp_ms) == (3, 2, 200)
    assert (media.stream_id, len(media.payload)) == (SID, 320)
    assert codec.parse(_fx("in_dtmf")) == Dtmf(
        digit="5", stream_id=SID, sequence_number=7, duration_ms=100
    )
    assert codec.parse(_fx("in_mark")) == Mark(name="ov-1", stream_id=SID, sequence_number=15)
    stop = codec.parse(_fx("in_stop"))
    assert isinstance(stop, Stop)
    assert (stop.call_id, stop.stream_id, stop.sequence_number) == (CALL, SID, 20)
    assert stop.extra["stop"]["reason"] == "callended"  # kept verbatim, reserialized as is


def test_start_binds_the_stream_and_its_rate() -> None:
    """``?sample-rate=16000`` on the stream URL: start announces 16000 Hz and the bound
    codec sends 16 kHz PCM16 addressed to the stream."""
    frame = json.loads(_fx("in_start"))
    frame["start"]["media_format"]["sample_rate"] = "16000"
    start = ExotelCodec().parse(json.dumps(frame))
    assert isinstance(start, Start)
    codec = ExotelCodec().bind(start)
    assert codec.output_format == AudioFormat(AudioEncoding.PCM16, 16000)
    payload = bytes(3200)  # 100 ms at 16 kHz
    assert json.loads(codec.serialize(SendMedia(payload=payload))) == {
        "event": "media",
        "stream_sid": SID,
        "media": {"payload": base64.b64encode(payload).decode()},
    }
    assert codec.serialize(SendMark(name="m1")) == (
        f'{{"event":"mark","stream_sid":"{SID}","mark":{{"name":"m1"}}}}'
    )
    assert codec.serialize(Clear()) == f'{{"event":"clear","stream_sid":"{SID}"}}'
    with pytest.raises(
        ValueError, match=r"^exotel: stream_sid unknown: bind the codec with for_start\(\)$"
    ):
        ExotelCodec().serialize(Clear())


def test_outbound_media_is_whole_320_byte_units() -> None:
    codec = ExotelCodec(stream_id=SID)
    codec.serialize(SendMedia(payload=bytes(1600)))
    with pytest.raises(ValueError, match=r".") as info:
        codec.serialize(SendMedia(payload=bytes(330)))
    assert str(info.value) == (
        "exotel: media payload must be a multiple of 320 bytes and at most 100000 bytes, "
        "got 330 bytes"
    )
    with pytest.raises(ValueError, match=r"^exotel: media payload must be a multiple"):
        codec.serialize(SendMedia(payload=bytes(100_160)))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b'{"event":"connected"}', "exotel: binary frame on a text-only protocol"),
        ("{}", "exotel: missing field 'event'"),
        ('{"event":"hello"}', "exotel: unknown event 'hello'"),
        ('{"event":"media","stream_sid":"MZ1"}', "exotel: missing field 'media'"),
        (
            '{"event":"media","media":{"payload":"@@@"}}',
            "exotel: media.payload is not valid base64",
        ),
        (
            '{"event":"start","stream_sid":"MZ1","start":{"media_format":'
            '{"encoding":"audio/x-raw","sample_rate":"8000"}}}',
            "exotel: missing field 'start.call_sid'",
        ),
        (
            '{"event":"start","stream_sid":"MZ1","start":{"call_sid":"CA1","media_format":'
            '{"encoding":"audio/x-raw","sample_rate":"11025"}}}',
            "exotel: unsupported start.media_format.sample_rate 11025 (8000, 16000 or 24000 Hz)",
        ),
        (
            '{"event":"start","stream_sid":"MZ1","start":{"call_sid":"CA1","media_format":'
            '{"encoding":"audio/opus","sample_rate":"8000"}}}',
            "exotel: unsupported start.media_format.encoding 'audio/opus'",
        ),
        ('{"event":"dtmf","dtmf":{"duration":"100"}}', "exotel: missing field 'dtmf.digit'"),
        (
            '{"event":"dtmf","dtmf":{"digit":"1","duration":"long"}}',
            "exotel: field 'dtmf.duration' must be an integer, got 'long'",
        ),
    ],
)
def test_bad_input_errors_exactly(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        ExotelCodec().parse(frame)
    assert str(info.value) == message


def test_parse_command_rejects_unknown_events() -> None:
    with pytest.raises(ValueError, match=r".") as info:
        ExotelCodec().parse_command('{"event":"playAudio","stream_sid":"MZ1"}')
    assert str(info.value) == "exotel: unknown event 'playAudio'"
