"""Golden fixtures (documented carrier examples): parse then serialize gives the same JSON.

``in_*.json`` are frames a carrier sends (``parse``), ``out_*.json`` frames we send to it
(``parse_command``); both must round-trip to the identical canonical JSON (sorted keys,
no whitespace) byte for byte. ``accept_*.json`` are documented variants that must parse
but are normalised when serialized.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.media_streams import (
    ExotelCodec,
    MediaStreamCodec,
    PlivoCodec,
    TelnyxCodec,
    TwilioCodec,
    VonageCodec,
)

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "media_streams"


def _codec(carrier: str) -> MediaStreamCodec:
    codecs: dict[str, MediaStreamCodec] = {
        "twilio": TwilioCodec(),
        "telnyx": TelnyxCodec(),
        "vonage": VonageCodec(),
        "plivo": PlivoCodec(),
        "exotel": ExotelCodec(),
    }
    return codecs[carrier]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _files(prefix: str) -> list[Path]:
    return sorted(FIXTURES.glob(f"*/{prefix}_*.json"))


def test_every_carrier_has_fixtures() -> None:
    assert carrier_names() == ("twilio", "telnyx", "vonage", "plivo", "exotel")
    for carrier in carrier_names():
        assert list((FIXTURES / carrier).glob("in_*.json")), carrier
        assert list((FIXTURES / carrier).glob("out_*.json")), carrier


@pytest.mark.parametrize("path", _files("in"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inbound_round_trip(path: Path) -> None:
    text = path.read_text()
    codec = _codec(path.parent.name)
    message = codec.parse(text)
    out = codec.serialize(message)
    assert isinstance(out, str)
    assert _canonical(json.loads(out)) == _canonical(json.loads(text))
    # a second pass is stable
    assert codec.parse(out) == message


@pytest.mark.parametrize("path", _files("out"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_outbound_round_trip(path: Path) -> None:
    text = path.read_text()
    codec = _codec(path.parent.name)
    command = codec.parse_command(text)
    out = codec.serialize(command)
    assert isinstance(out, str)
    assert _canonical(json.loads(out)) == _canonical(json.loads(text))


@pytest.mark.parametrize("path", _files("accept"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_accepted_variants_parse_and_reserialize(path: Path) -> None:
    codec = _codec(path.parent.name)
    message = codec.parse(path.read_text())
    again = codec.parse(codec.serialize(message))
    assert again == message
