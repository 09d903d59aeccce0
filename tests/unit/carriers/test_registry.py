"""The carrier registry: names, lookup, codecs, the environment, and carrier detection from
the first frame (each profile's ``matches_first_frame``; reference section 0 rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.carriers import registry
from omnivoice_rtc.carriers.registry import (
    carrier_names,
    codec_for,
    configured_carriers,
    detect_candidates,
    detect_carrier,
    profile_type,
    profiles_from_env,
)
from omnivoice_rtc.media_streams import Clear, Connected, Media
from omnivoice_rtc.types import ProviderName

pytestmark = pytest.mark.unit

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams"


def test_names_lookup_and_provider_names() -> None:
    assert carrier_names() == ("twilio", "telnyx", "vonage", "plivo", "exotel")
    for name in carrier_names():
        assert profile_type(name).name == name
        assert ProviderName(name) == name  # an open enum: every carrier is a provider name
        assert codec_for(name).carrier == name
    with pytest.raises(ValueError, match=r"^unknown carrier 'skype'$"):
        profile_type("skype")
    assert registry.enable_vars() == (
        "TWILIO_AUTH_TOKEN",
        "TELNYX_PUBLIC_KEY",
        "VONAGE_SIGNATURE_SECRET",
        "PLIVO_AUTH_TOKEN",
        "EXOTEL_STREAM_PASSWORD",
    )


def test_carriers_from_the_environment() -> None:
    env = {"PLIVO_AUTH_TOKEN": "p", "EXOTEL_STREAM_USER": "u", "EXOTEL_STREAM_PASSWORD": "pw"}
    assert configured_carriers(env) == ["plivo", "exotel"]
    assert [p.name for p in profiles_from_env(env)] == ["plivo", "exotel"]
    assert configured_carriers({"TWILIO_AUTH_TOKEN": "  "}) == []
    with pytest.raises(ConfigError, match=r"^EXOTEL_STREAM_USER: required with"):
        profiles_from_env({"EXOTEL_STREAM_PASSWORD": "pw"})


@pytest.mark.parametrize(
    ("fixture", "carrier"),
    [
        ("twilio/in_connected", "twilio"),
        ("twilio/in_start", "twilio"),
        ("telnyx/in_connected", "telnyx"),
        ("telnyx/in_start", "telnyx"),
        ("vonage/in_connected", "vonage"),
        ("plivo/in_start", "plivo"),
        ("exotel/in_start", "exotel"),
    ],
)
def test_detects_from_documented_first_frames(fixture: str, carrier: str) -> None:
    frame = (FIX / f"{fixture}.json").read_text()
    assert detect_carrier(frame) == carrier
    # and the detected carrier's codec parses the frame
    codec_for(detect_carrier(frame)).parse(frame)


def test_a_bare_connected_waits_for_the_next_frame() -> None:
    """Exotel's ``connected`` is only ``{"event": "connected"}``, which a Telnyx
    ``connected`` without ``version`` also is: both fit, the start frame decides."""
    frame = (FIX / "exotel/in_connected.json").read_text()
    assert detect_candidates(frame) == ("telnyx", "exotel")
    assert detect_candidates(frame, among=["exotel", "plivo"]) == ("exotel",)
    with pytest.raises(
        ValueError, match=r"^cannot detect carrier: the frame fits telnyx and exotel$"
    ):
        detect_carrier(frame)


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
        (
            '{"event":"start","start":{"call_sid":"CA1"}}',
            "cannot detect carrier: start frame matches no carrier",
        ),
    ],
)
def test_undetectable_frames(frame: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        detect_carrier(frame)
    assert str(info.value) == message


def test_bind_follows_the_opening_message() -> None:
    for fixture in (
        "twilio/in_start",
        "telnyx/in_start",
        "plivo/in_start",
        "vonage/in_connected",
        "exotel/in_start",
    ):
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


def test_opening_messages() -> None:
    """Which message opens each carrier's stream (what the handshake waits for and the
    stream sequencer checks)."""
    opening = {name: profile_type(name).opening_message.__name__ for name in carrier_names()}
    assert opening == {
        "twilio": "Start",
        "telnyx": "Start",
        "vonage": "Connected",
        "plivo": "Start",
        "exotel": "Start",
    }
