"""Hostile input: any frame either parses or raises ValueError — never another exception.

Mutations of every golden fixture (deterministic seed): values swapped for other JSON
types, keys dropped, bytes flipped, truncated frames.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from omnivoice_rtc.carriers.registry import detect_carrier
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
ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", "-1", [], {}, ["a"], {"a": 1}, "@@@"]


def _codecs() -> dict[str, MediaStreamCodec]:
    return {
        "twilio": TwilioCodec(stream_id="MZ1"),
        "telnyx": TelnyxCodec(),
        "vonage": VonageCodec(),
        "plivo": PlivoCodec(stream_id="s1"),
        "exotel": ExotelCodec(stream_id="MZ1"),
    }


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            out += _paths(value, (*prefix, index))
    return out


def _mutants(obj: Any, rng: random.Random) -> list[str]:
    mutants: list[str] = []
    for path in _paths(obj):
        for value in rng.sample(ODD_VALUES, 5):
            copy = json.loads(json.dumps(obj))
            target = copy
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
            mutants.append(json.dumps(copy))
        copy = json.loads(json.dumps(obj))
        target = copy
        for step in path[:-1]:
            target = target[step]
        if isinstance(target, dict):
            del target[path[-1]]
            mutants.append(json.dumps(copy))
    text = json.dumps(obj)
    mutants += [text[: rng.randrange(len(text))] for _ in range(5)]
    return mutants


def _check(codec: MediaStreamCodec, frame: str | bytes) -> None:
    for call in (codec.parse, codec.parse_command, detect_carrier):
        with contextlib.suppress(ValueError):
            call(frame)


@pytest.mark.parametrize(
    "path", sorted(FIXTURES.glob("*/*.json")), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_mutated_fixtures_only_raise_value_error(path: Path) -> None:
    rng = random.Random(path.name)
    codec = _codecs()[path.parent.name]
    for frame in _mutants(json.loads(path.read_text()), rng):
        _check(codec, frame)


def test_binary_garbage_only_raises_value_error() -> None:
    rng = random.Random(5)
    for codec in _codecs().values():
        for size in (0, 1, 319, 320, 640, 641, 4096):
            frame = bytes(rng.randrange(256) for _ in range(size))
            _check(codec, frame)
        _check(codec, b"\xff\xfe{")
        _check(codec, "\ud800")


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "plivo", "exotel"])
def test_fast_media_path_matches_validating_path(
    carrier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnivoice_rtc.media_streams import _fields

    frame = (FIXTURES / carrier / "in_media.json").read_text()
    assert _fields.fast_media(json.loads(frame), *_FAST_KEYS[carrier]) is not None
    fast = _codecs()[carrier].parse(frame)
    monkeypatch.setattr(_fields, "fast_media", lambda *args: None)
    assert _codecs()[carrier].parse(frame) == fast


_FAST_KEYS = {
    "twilio": ("sequenceNumber", "streamSid"),
    "telnyx": ("sequence_number", "stream_id"),
    "plivo": ("sequenceNumber", "streamId", "extra_headers"),
    "exotel": ("sequence_number", "stream_sid"),
}
