"""The shim <-> omnivoice-media framing, against the golden bytes the Go side also reads."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from omnivoice_rtc.native.messages import (
    AgentAudio,
    AttributesChanged,
    CallerAudio,
    ClearAudio,
    DataReceived,
    Disconnected,
    DtmfReceived,
    ErrorNotice,
    Join,
    Joined,
    Participant,
    ParticipantLeft,
    SendData,
    SendDtmf,
    WireMessage,
    decode,
    receive,
)
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


# --------------------------------------------------------------------------- typed messages

TYPED_GOLDEN: list[WireMessage] = [
    Join(
        url="ws://127.0.0.1:7880",
        token="t",
        publish_rate_hz=8000,
        subscribe_rate_hz=16000,
        frame_ms=20,
        opus_complexity=5,
    ),
    CallerAudio(pcm=bytes(range(8))),
    ClearAudio(),
    SendDtmf(code=11, digit="#"),
    SendData(topic="omnivoice.events", destinations=("agent-1",), payload=b'{"type":"x"}'),
]
"""The messages of testdata/messages.bin, typed."""


def test_typed_messages_encode_to_the_golden_bytes() -> None:
    assert b"".join(m.encode() for m in TYPED_GOLDEN) == Path(GOLDEN).read_bytes()


async def test_typed_messages_decode_from_the_golden_bytes() -> None:
    reader = _reader(b"".join(_golden_messages()))  # == the golden bytes (tested above)
    assert [await receive(reader) for _ in TYPED_GOLDEN] == TYPED_GOLDEN
    with pytest.raises(asyncio.IncompleteReadError):
        await receive(reader)


FROM_THE_PROCESS: list[WireMessage] = [
    Joined(
        identity="pstn-twilio-CA1",
        codec="pcmu",
        participants=(
            Participant(identity="agent-1", kind="agent", attributes={"lk.agent.state": "idle"}),
            Participant(identity="web", kind="standard"),
        ),
    ),
    ErrorNotice(error="join needs url and token"),
    AgentAudio(pcm=bytes(320)),
    Participant(identity="agent-2", kind="agent", attributes={"a": "b"}),
    ParticipantLeft(identity="agent-2"),
    AttributesChanged(identity="agent-1", changed={"lk.agent.state": "speaking"}),
    DtmfReceived(identity="agent-1", code=5, digit="5"),
    DataReceived(identity="agent-1", topic="omnivoice.events", payload=b"{}"),
    Disconnected(reason="ROOM_DELETED"),
]


@pytest.mark.parametrize("message", TYPED_GOLDEN + FROM_THE_PROCESS, ids=lambda m: type(m).__name__)
def test_every_message_round_trips(message: WireMessage) -> None:
    assert decode(message.KIND, message.to_payload()) == message
    assert type(message).from_payload(message.to_payload()) == message
    framed = message.encode()
    assert framed[:1] == message.KIND.value
    assert int.from_bytes(framed[1:5], "big") == len(framed) - 5


def test_every_kind_has_one_typed_message() -> None:
    kinds = [m.KIND for m in TYPED_GOLDEN + FROM_THE_PROCESS]
    assert sorted(kinds) == sorted(MessageKind)


@pytest.mark.parametrize(
    ("kind", "go_json", "expected"),
    [
        # what omnivoice-media's json.Marshal writes: struct fields in order, map keys
        # sorted, nil maps and slices as null
        (
            MessageKind.JOINED,
            b'{"identity":"me","codec":"opus","participants":[{"identity":"a","kind":"agent","attributes":null}]}',
            Joined(
                identity="me", codec="opus", participants=(Participant(identity="a", kind="agent"),)
            ),
        ),
        (
            MessageKind.ATTRIBUTES,
            b'{"changed":{"lk.agent.state":"listening"},"identity":"a"}',
            AttributesChanged(identity="a", changed={"lk.agent.state": "listening"}),
        ),
        (
            MessageKind.ATTRIBUTES,
            b'{"changed":null,"identity":"a"}',
            AttributesChanged(identity="a"),
        ),
        (
            MessageKind.DTMF,
            b'{"code":11,"digit":"#","identity":""}',
            DtmfReceived(identity="", code=11, digit="#"),
        ),
        (
            MessageKind.PARTICIPANT,
            b'{"identity":"w","kind":"standard"}',
            Participant(identity="w", kind="standard"),
        ),
    ],
)
def test_what_go_writes_decodes(kind: MessageKind, go_json: bytes, expected: WireMessage) -> None:
    assert decode(kind, go_json) == expected


def test_go_style_keys_are_written() -> None:
    changed = AttributesChanged(identity="a", changed={"k": "v"})
    assert changed.to_payload() == b'{"changed":{"k":"v"},"identity":"a"}'
    dtmf = DtmfReceived(identity="a", code=1, digit="1")
    assert dtmf.to_payload() == b'{"code":1,"digit":"1","identity":"a"}'
    data = DataReceived(identity="a", topic="t", payload=b"xyz")
    assert split_header(data.to_payload()) == ({"identity": "a", "topic": "t"}, b"xyz")


@pytest.mark.parametrize(
    ("kind", "payload", "error"),
    [
        (
            MessageKind.JOIN,
            b"{",
            "join message: invalid JSON: Expecting property name enclosed in double quotes at position 1",
        ),
        (MessageKind.JOIN, b"\xff", "join message: payload is not UTF-8"),
        (MessageKind.JOIN, b"[1]", "join message: expected a JSON object, got list"),
        (MessageKind.JOIN, b'{"token":"t"}', "join message: url is missing"),
        (
            MessageKind.SEND_DTMF,
            b'{"code":"1","digit":"1"}',
            "send_dtmf message: code must be an integer, got str",
        ),
        (
            MessageKind.SEND_DTMF,
            b'{"code":true,"digit":"1"}',
            "send_dtmf message: code must be an integer, got bool",
        ),
        (MessageKind.DTMF, b'{"code":5,"identity":"a"}', "dtmf message: digit is missing"),
        (
            MessageKind.DTMF,
            b'{"code":5,"digit":5,"identity":"a"}',
            "dtmf message: digit must be a string, got int",
        ),
        (MessageKind.CLEAR_AUDIO, b"x", "clear_audio message must be empty, got 1 bytes"),
        (
            MessageKind.PARTICIPANT,
            b'{"identity":"a","kind":"agent","attributes":{"k":1}}',
            "participant message: attributes must be an object of strings, got dict",
        ),
        (
            MessageKind.ATTRIBUTES,
            b'{"identity":"a","changed":[]}',
            "attributes message: changed must be an object of strings, got list",
        ),
        (
            MessageKind.JOINED,
            b'{"identity":"a","codec":"pcmu","participants":{}}',
            "joined message: participants must be a list, got dict",
        ),
        (
            MessageKind.JOINED,
            b'{"identity":"a","codec":"pcmu","participants":[1]}',
            "joined participants message: expected a JSON object, got int",
        ),
        (
            MessageKind.JOINED,
            b'{"identity":"a","codec":"pcmu","participants":[{"kind":"agent"}]}',
            "joined participants message: identity is missing",
        ),
        (
            MessageKind.SEND_DATA,
            b"\x00",
            "send_data message: message of 1 bytes has no header length",
        ),
        (MessageKind.SEND_DATA, b"\x00\x02{}", "send_data message: topic is missing"),
        (
            MessageKind.SEND_DATA,
            join_header({"topic": "t", "destinations": 7}, b""),
            "send_data message: destinations must be a list of strings, got int",
        ),
        (
            MessageKind.DATA,
            b"\x00\x05{}",
            "data message: header of 5 bytes overruns the 4 byte message",
        ),
        (MessageKind.DATA, b"\x00\x02[]", "data message: expected a JSON object, got list"),
        (
            MessageKind.DATA,
            b'\x00\x0b{"topic" 1}',
            "data message: invalid JSON: Expecting ':' delimiter at position 9",
        ),
        (MessageKind.ERROR, b"{}", "error message: error is missing"),
        (
            MessageKind.DISCONNECTED,
            b'{"reason":null}',
            "disconnected message: reason must be a string, got NoneType",
        ),
        (MessageKind.PARTICIPANT_LEFT, b"{}", "participant_left message: identity is missing"),
    ],
)
def test_bad_payloads_raise_precise_errors(kind: MessageKind, payload: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        decode(kind, payload)
