"""Carrier detection from the first frame (reference section 0 rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import Clear, Connected, Media, codec_for, detect_carrier

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams"


@pytest.mark.parametrize(
    ("fixture", "carrier"),
    [
        ("twilio/in_connected", "twilio"),
        ("twilio/in_start", "twilio"),
        ("telnyx/in_connected", "telnyx"),
        ("telnyx/in_start", "telnyx"),
        ("vonage/in_connected", "vonage"),
        ("plivo/in_start", "plivo"),
    ],
)
def test_detects_from_documented_first_frames(fixture: str, carrier: str) -> None:
    frame = (FIX / f"{fixture}.json").read_text()
    assert detect_carrier(frame) == carrier
    # and the detected carrier's codec parses the frame
    codec_for(detect_carrier(frame)).parse(frame)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (b"\x00" * 640, "cannot detect carrier: first frame is binary"),
        (
            "{",
            "cannot detect carrier: detect: invalid JSON: Expecting property name enclosed in double quotes at position 1",
        ),
        ('{"event":"media"}', "cannot detect carrier: unexpected first event 'media'"),
        (
            '{"event":"start","start":{"callSid":"CA1"}}',
            "cannot detect carrier: start frame matches no carrier",
        ),
        (
            '{"event":"start","start":{"call_control_id":"v3:x"}}',
            "cannot detect carrier: start frame matches no carrier",
        ),
    ],
)
def test_undetectable_frames(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        detect_carrier(frame)
    assert str(info.value) == message


def test_bind_follows_the_opening_message() -> None:
    for fixture in ("twilio/in_start", "telnyx/in_start", "plivo/in_start", "vonage/in_connected"):
        frame = (FIX / f"{fixture}.json").read_text()
        codec = codec_for(detect_carrier(frame))
        bound = codec.bind(codec.parse(frame))
        assert bound is not codec, fixture
        assert bound.bind(Media(payload=b"")) is bound, fixture
    twilio = codec_for("twilio")
    start = twilio.parse((FIX / "twilio/in_start.json").read_text())
    assert '"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"' in str(
        twilio.bind(start).serialize(Clear())
    )
    vonage = codec_for("vonage").bind(
        Connected(media_format=AudioFormat(AudioEncoding.PCM16, 8000))
    )
    assert vonage.output_format.sample_rate == 8000
