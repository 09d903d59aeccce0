"""The shim <-> omnivoice-media framing, against the golden bytes the Go side also reads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from omnivoice_rtc.native.wire import (
    MAX_PAYLOAD_BYTES,
    MessageKind,
    decode_json,
    encode_message,
    join_header,
    read_message,
    split_header,
)
from omnivoice_rtc.stack import PROJECT_ROOT

pytestmark = pytest.mark.unit

GOLDEN = PROJECT_ROOT / "native" / "omnivoice-media" / "testdata" / "messages.bin"


def _golden_messages() -> list[bytes]:
    join = {
        "url": "ws://127.0.0.1:7880",
        "token": "t",
        "publish_rate_hz": 8000,
        "subscribe_rate_hz": 16000,
        "frame_ms": 20,
        "opus_complexity": 5,
    }
    return [
        encode_message(MessageKind.JOIN, json.dumps(join, separators=(",", ":")).encode()),
        encode_message(MessageKind.CALLER_AUDIO, bytes(range(8))),
        encode_message(MessageKind.CLEAR_AUDIO),
        encode_message(MessageKind.SEND_DTMF, b'{"code":11,"digit":"#"}'),
        encode_message(
            MessageKind.SEND_DATA,
            join_header(
                {"topic": "omnivoice.events", "destinations": ["agent-1"]}, b'{"type":"x"}'
            ),
        ),
    ]


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_encoding_matches_the_golden_bytes_go_reads() -> None:
    assert b"".join(_golden_messages()) == Path(GOLDEN).read_bytes()


async def test_reading_the_golden_bytes_gives_the_messages_back() -> None:
    reader = _reader(b"".join(_golden_messages()))  # == the golden bytes (test above)
    kinds = []
    for _ in range(5):
        kind, payload = await read_message(reader)
        kinds.append(kind)
        if kind is MessageKind.SEND_DATA:
            header, body = split_header(payload)
            assert header == {"topic": "omnivoice.events", "destinations": ["agent-1"]}
            assert body == b'{"type":"x"}'
    assert kinds == [
        MessageKind.JOIN,
        MessageKind.CALLER_AUDIO,
        MessageKind.CLEAR_AUDIO,
        MessageKind.SEND_DTMF,
        MessageKind.SEND_DATA,
    ]
    with pytest.raises(asyncio.IncompleteReadError):
        await read_message(reader)


async def test_bad_frames_raise_precise_errors() -> None:
    with pytest.raises(ValueError, match=r"^unknown message kind b'Z'$"):
        await read_message(_reader(b"Z\x00\x00\x00\x00"))
    with pytest.raises(
        ValueError, match=r"^message of 1048577 bytes exceeds the 1048576 byte cap$"
    ):
        await read_message(_reader(b"A\x00\x10\x00\x01"))
    with pytest.raises(
        ValueError, match=r"^message of 1048577 bytes exceeds the 1048576 byte cap$"
    ):
        encode_message(MessageKind.CALLER_AUDIO, bytes(MAX_PAYLOAD_BYTES + 1))
    with pytest.raises(ValueError, match=r"^message of 1 bytes has no header length$"):
        split_header(b"\x00")
    with pytest.raises(ValueError, match=r"^header of 5 bytes overruns the 4 byte message$"):
        split_header(b"\x00\x05{}")
    with pytest.raises(ValueError, match=r"^expected a JSON object, got list$"):
        decode_json(b"[1]")
