"""Twilio codec: typed fields from documented frames and exact errors on bad input."""

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
    Mark,
    Media,
    SendMark,
    SendMedia,
    Start,
    Stop,
    TwilioCodec,
)
from omnivoice_rtc.media_streams.twilio import FRAME_BYTES, MEDIA_FORMAT

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams" / "twilio"
SID = "MZ18ad3ab5a668481ce02b83e7395059f0"


def _fx(name: str) -> str:
    return (FIX / f"{name}.json").read_text()


def test_frame_facts() -> None:
    assert AudioFormat(AudioEncoding.MULAW, 8000) == MEDIA_FORMAT
    assert FRAME_BYTES == MEDIA_FORMAT.frame_bytes(20) == 160


def test_parse_documented_frames() -> None:
    codec = TwilioCodec()
    assert codec.parse(_fx("in_connected")) == Connected(protocol="Call", version="1.0.0")
    start = codec.parse(_fx("in_start"))
    assert isinstance(start, Start)
    assert start.call_id == "CA0123456789abcdef0123456789abcdef"
    assert start.stream_id == SID
    assert start.custom_parameters == {
        "tenant": "acme",
        "token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    }
    assert start.media_format == MEDIA_FORMAT
    assert start.sequence_number == 1
    media = codec.parse(_fx("in_media"))
    assert isinstance(media, Media)
    assert (media.sequence_number, media.chunk, media.timestamp_ms) == (4, 2, 5)
    assert len(media.payload) == 160
    assert media.payload[:4] == bytes([0xFF, 0x7F, 0xFE, 0x7E])
    assert codec.parse(_fx("in_dtmf")) == Dtmf(
        digit="1", stream_id=SID, track="inbound_track", sequence_number=5
    )
    assert codec.parse(_fx("in_mark")) == Mark(name="my label", stream_id=SID, sequence_number=4)
    stop = codec.parse(_fx("in_stop"))
    assert isinstance(stop, Stop)
    assert stop.call_id == "CA0123456789abcdef0123456789abcdef"


def test_commands_need_and_use_the_stream_sid() -> None:
    start = TwilioCodec().parse(_fx("in_start"))
    assert isinstance(start, Start)
    codec = TwilioCodec().for_start(start)
    assert json.loads(codec.serialize(SendMedia(payload=b"\xff" * 160))) == {
        "event": "media",
        "streamSid": SID,
        "media": {"payload": base64.b64encode(b"\xff" * 160).decode()},
    }
    assert codec.serialize(SendMark(name="m1")) == (
        f'{{"event":"mark","streamSid":"{SID}","mark":{{"name":"m1"}}}}'
    )
    assert codec.serialize(Clear()) == f'{{"event":"clear","streamSid":"{SID}"}}'
    with pytest.raises(
        ValueError, match=r"^twilio: streamSid unknown: bind the codec with for_start\(\)$"
    ):
        TwilioCodec().serialize(Clear())


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b'{"event":"connected"}', "twilio: binary frame on a text-only protocol"),
        (
            "{not json",
            "twilio: invalid JSON: Expecting property name enclosed in double quotes at position 1",
        ),
        ("[1]", "twilio: expected a JSON object, got list"),
        ("{}", "twilio: missing field 'event'"),
        ('{"event":"hello"}', "twilio: unknown event 'hello'"),
        ('{"event":"media","streamSid":"MZ1"}', "twilio: missing field 'media'"),
        ('{"event":"media","media":{}}', "twilio: missing field 'media.payload'"),
        (
            '{"event":"media","media":{"payload":"@@@"}}',
            "twilio: media.payload is not valid base64",
        ),
        (
            '{"event":"media","media":{"payload":5}}',
            "twilio: media.payload must be a base64 string, got int",
        ),
        (
            '{"event":"media","sequenceNumber":"x","media":{"payload":""}}',
            "twilio: field 'sequenceNumber' must be an integer, got 'x'",
        ),
        (
            '{"event":"start","streamSid":"MZ1","start":{"mediaFormat":{"encoding":"audio/x-mulaw"}}}',
            "twilio: missing field 'start.callSid'",
        ),
        (
            '{"event":"start","streamSid":"MZ1","start":{"callSid":"CA1",'
            '"mediaFormat":{"encoding":"audio/opus","sampleRate":8000}}}',
            "twilio: unsupported start.mediaFormat.encoding 'audio/opus'",
        ),
        ('{"event":"dtmf","dtmf":{}}', "twilio: missing field 'dtmf.digit'"),
    ],
)
def test_bad_input_errors_exactly(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        TwilioCodec().parse(frame)
    assert str(info.value) == message


def test_parse_command_rejects_unknown_events() -> None:
    with pytest.raises(ValueError, match=r".") as info:
        TwilioCodec().parse_command('{"event":"playAudio","streamSid":"MZ1"}')
    assert str(info.value) == "twilio: unknown event 'playAudio'"
