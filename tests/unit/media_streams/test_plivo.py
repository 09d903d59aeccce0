"""Plivo codec: start first (no connected), extra_headers, playAudio formats, exact errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnivoice_rtc.audio.format import PLIVO, PLIVO_L16_16K
from omnivoice_rtc.media_streams import (
    Clear,
    Cleared,
    Mark,
    Media,
    PlivoCodec,
    SendMark,
    SendMedia,
    Start,
)
from omnivoice_rtc.media_streams.plivo import (
    format_extra_headers,
    parse_extra_headers,
    stream_content_type,
)

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams" / "plivo"
SID = "b3b7c6c2-5a1e-4a8e-9f5c-6d0b1f2e3a4b"


def _fx(name: str) -> str:
    return (FIX / f"{name}.json").read_text()


def test_parse_documented_frames() -> None:
    codec = PlivoCodec()
    start = codec.parse(_fx("in_start"))
    assert isinstance(start, Start)
    assert (start.call_id, start.stream_id) == ("2e1c5f3a-0000-4000-8000-000000000001", SID)
    assert start.custom_parameters == {
        "tenant": "acme",
        "token": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    }
    assert start.media_format == PLIVO
    media = codec.parse(_fx("in_media"))
    assert isinstance(media, Media)
    assert (media.sequence_number, media.chunk, media.timestamp_ms) == (42, 41, 1705312200000)
    assert codec.parse(_fx("in_playedStream")) == Mark(
        name="customer greeting audio", stream_id=SID, sequence_number=44
    )
    played = codec.parse(_fx("accept_played"))
    assert isinstance(played, Mark)
    assert played.name == "utt-1"
    assert codec.parse(_fx("in_clearedAudio")) == Cleared(stream_id=SID, sequence_number=45)


def test_extra_headers_both_separators() -> None:
    assert parse_extra_headers("a=1;b=2") == parse_extra_headers("a=1,b=2") == {"a": "1", "b": "2"}
    assert format_extra_headers({"token": "abc123"}) == "token=abc123"
    with pytest.raises(ValueError, match=r".") as info:
        format_extra_headers({"token": "a-b"})
    assert (
        str(info.value) == "plivo: extraHeaders keys and values must be alphanumeric, got 'token'"
    )


def test_commands() -> None:
    codec = PlivoCodec(stream_id=SID, output_format=PLIVO_L16_16K)
    play = json.loads(codec.serialize(SendMedia(payload=bytes(640))))
    assert play["media"]["contentType"] == "audio/x-l16"
    assert play["media"]["sampleRate"] == 16000
    assert json.loads(codec.serialize(SendMark(name="c1"))) == {
        "event": "checkpoint",
        "streamId": SID,
        "name": "c1",
    }
    assert json.loads(codec.serialize(Clear())) == {"event": "clearAudio", "streamId": SID}
    assert stream_content_type(PLIVO) == "audio/x-mulaw;rate=8000"
    with pytest.raises(ValueError, match=r".") as info:
        codec.serialize(SendMedia(payload=bytes(641)))
    assert str(info.value) == "plivo: L16 payload must have an even number of bytes, got 641 bytes"
    with pytest.raises(ValueError, match=r".") as info:
        PlivoCodec().serialize(Clear())
    assert str(info.value) == "plivo: streamId unknown: bind the codec with for_start()"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"{}", "plivo: binary frame on a text-only protocol"),
        ('{"event":"start"}', "plivo: missing field 'start'"),
        (
            '{"event":"start","start":{"callId":"c","mediaFormat":{"encoding":"audio/x-mulaw"}}}',
            "plivo: missing field 'start.streamId'",
        ),
        (
            '{"event":"media","media":{"chunk":"x","payload":""}}',
            "plivo: field 'media.chunk' must be an integer, got 'x'",
        ),
        ('{"event":"connected"}', "plivo: unknown event 'connected'"),
    ],
)
def test_bad_input_errors_exactly(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        PlivoCodec().parse(frame)
    assert str(info.value) == message


def test_play_audio_rejects_unsupported_format() -> None:
    frame = '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":16000,"payload":""}}'
    with pytest.raises(ValueError, match=r".") as info:
        PlivoCodec().parse_command(frame)
    assert str(info.value) == (
        "plivo: unsupported audio format mulaw/16000 Hz (μ-law 8000 Hz or L16 8000/16000 Hz)"
    )
