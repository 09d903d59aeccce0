"""Telnyx codec: documented frames, accepted variants, outbound size rule, exact errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import (
    Clear,
    Connected,
    Error,
    SendMark,
    SendMedia,
    Start,
    TelnyxCodec,
)
from omnivoice_rtc.media_streams.telnyx import bidirectional_codec_name

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams" / "telnyx"


def _fx(name: str) -> str:
    return (FIX / f"{name}.json").read_text()


def test_parse_documented_start() -> None:
    codec = TelnyxCodec()
    assert codec.parse(_fx("in_connected")) == Connected(version="1.0.0")
    start = codec.parse(_fx("in_start"))
    assert isinstance(start, Start)
    assert start.call_id == "v2:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ"
    assert start.stream_id == "32DE0DEA-53CB-4B21-89A4-9E1819C043BC"
    assert start.custom_parameters == {"customer_id": "customer_123"}
    assert start.media_format == AudioFormat(AudioEncoding.MULAW, 8000)
    assert start.details["from"] == "+13122010094"
    assert start.details["client_state"] == "aGF2ZSBhIG5pY2UgZGF5ID1d"


def test_accepts_legacy_encoding_and_camel_case_parameters() -> None:
    start = TelnyxCodec().parse(_fx("accept_start_legacy"))
    assert isinstance(start, Start)
    assert start.custom_parameters == {"token": "tok123"}
    assert start.media_format.encoding is AudioEncoding.MULAW


def test_error_frame_under_error_or_payload() -> None:
    a = TelnyxCodec().parse(_fx("in_error_doc"))
    b = TelnyxCodec().parse(_fx("accept_error_payload"))
    assert isinstance(a, Error)
    assert isinstance(b, Error)
    assert (a.code, a.title) == ("100005", "rate_limit_reached")
    assert (b.code, b.title) == ("100003", "malformed_frame")


def test_l16_is_big_endian_by_default() -> None:
    frame = (
        '{"event":"start","stream_id":"s","start":{"call_control_id":"v3:x",'
        '"media_format":{"encoding":"L16","sample_rate":16000,"channels":1}}}'
    )
    start = TelnyxCodec().parse(frame)
    assert isinstance(start, Start)
    assert start.media_format == AudioFormat(AudioEncoding.PCM16_BE, 16000)


def test_commands_have_no_stream_id_and_enforce_20ms_minimum() -> None:
    codec = TelnyxCodec()
    assert codec.serialize(Clear()) == '{"event":"clear"}'
    assert codec.serialize(SendMark(name="g")) == '{"event":"mark","mark":{"name":"g"}}'
    assert codec.serialize(SendMedia(payload=b"\xff" * 160)).startswith('{"event":"media"')
    with pytest.raises(ValueError, match=r".") as info:
        codec.serialize(SendMedia(payload=b"\xff" * 80))
    assert str(info.value) == (
        "telnyx: media payload must hold 20 ms to 30 s of audio "
        "(160 to 240000 bytes of PCMU at 8000 Hz), got 80 bytes"
    )
    pcma = TelnyxCodec(output_format=AudioFormat(AudioEncoding.ALAW, 8000))
    assert bidirectional_codec_name(pcma.output_format) == "PCMA"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\x00\x01", "telnyx: binary frame on a text-only protocol"),
        (
            '{"event":"start","stream_id":"s","start":{}}',
            "telnyx: missing field 'start.media_format'",
        ),
        (
            '{"event":"start","stream_id":"s","start":{"media_format":{"encoding":"PCMU"}}}',
            "telnyx: missing field 'start.call_control_id'",
        ),
        ('{"event":"media","media":{"payload":"a"}}', "telnyx: media.payload is not valid base64"),
        ('{"event":"error","error":{}}', "telnyx: missing field 'error.code'"),
        ('{"event":"streaming"}', "telnyx: unknown event 'streaming'"),
    ],
)
def test_bad_input_errors_exactly(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        TelnyxCodec().parse(frame)
    assert str(info.value) == message
