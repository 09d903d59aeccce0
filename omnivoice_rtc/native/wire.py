"""Framing between the shim and ``omnivoice-media``: one Unix socket connection per call.

Every message is ``kind (1 byte) | payload length (4 bytes, big endian) | payload``. The Go
side is native/omnivoice-media/wire.go; both are tested against the same golden bytes
(native/omnivoice-media/testdata/messages.bin).

The typed message of each kind is in :mod:`omnivoice_rtc.native.messages`.
"""

from __future__ import annotations

import asyncio
import json
import struct
from enum import Enum
from typing import Any, Final

from omnivoice_rtc.native._json_body import dump_json

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MessageKind",
    "decode_json",
    "encode_message",
    "join_header",
    "read_message",
    "split_header",
    "split_raw",
]

MAX_PAYLOAD_BYTES: Final = 1 << 20
"""Largest payload either side accepts (bytes)."""

_HEADER: Final = struct.Struct(">cI")
_SUBHEADER: Final = struct.Struct(">H")


class MessageKind(bytes, Enum):
    """The message kinds (payloads: the typed message of the same name below); upper case
    travels to the media process, lower case back."""

    JOIN = b"J"
    CALLER_AUDIO = b"A"
    CLEAR_AUDIO = b"C"
    SEND_DTMF = b"D"
    SEND_DATA = b"M"
    """Header JSON + payload, see :func:`join_header` (also ``DATA``)."""
    JOINED = b"j"
    ERROR = b"e"
    """The connection closes after it."""
    AGENT_AUDIO = b"a"
    PARTICIPANT = b"p"
    PARTICIPANT_LEFT = b"l"
    ATTRIBUTES = b"s"
    DTMF = b"d"
    DATA = b"m"
    DISCONNECTED = b"x"


def encode_message(kind: MessageKind, payload: bytes = b"") -> bytes:
    """One framed message: ``kind | length | payload``."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"message of {len(payload)} bytes exceeds the {MAX_PAYLOAD_BYTES} byte cap"
        )
    return _HEADER.pack(kind.value, len(payload)) + payload


async def read_message(reader: asyncio.StreamReader) -> tuple[MessageKind, bytes]:
    """The next message; ``asyncio.IncompleteReadError`` at end of stream."""
    kind, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"message of {size} bytes exceeds the {MAX_PAYLOAD_BYTES} byte cap")
    payload = await reader.readexactly(size)
    try:
        return MessageKind(kind), payload
    except ValueError:
        raise ValueError(f"unknown message kind {kind!r}") from None


def join_header(header: dict[str, Any], body: bytes) -> bytes:
    """``header length (2 bytes BE) | header JSON | body``."""
    raw = dump_json(header)
    if len(raw) > 0xFFFF:
        raise ValueError(f"header of {len(raw)} bytes exceeds 65535")
    return _SUBHEADER.pack(len(raw)) + raw + body


def split_header(payload: bytes) -> tuple[dict[str, Any], bytes]:
    """Inverse of :func:`join_header` (the header parsed as JSON)."""
    header, body = split_raw(payload)
    return decode_json(header), body


def split_raw(payload: bytes) -> tuple[bytes, bytes]:
    """Inverse of :func:`join_header`: the header bytes and the body."""
    if len(payload) < _SUBHEADER.size:
        raise ValueError(f"message of {len(payload)} bytes has no header length")
    (size,) = _SUBHEADER.unpack_from(payload)
    end = _SUBHEADER.size + size
    if end > len(payload):
        raise ValueError(f"header of {size} bytes overruns the {len(payload)} byte message")
    return payload[_SUBHEADER.size : end], payload[end:]


def decode_json(payload: bytes) -> dict[str, Any]:
    """A JSON object payload; ValueError for anything else."""
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
