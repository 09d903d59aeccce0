"""Framing between the shim and ``omnivoice-media``: one Unix socket connection per call.

Every message is ``kind (1 byte) | payload length (4 bytes, big endian) | payload``. The Go
side is native/omnivoice-media/wire.go; both are tested against the same golden bytes
(native/omnivoice-media/testdata/messages.bin).
"""

from __future__ import annotations

import asyncio
import json
import struct
from enum import Enum
from typing import Any, Final

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MessageKind",
    "decode_json",
    "encode_message",
    "join_header",
    "read_message",
    "split_header",
]

MAX_PAYLOAD_BYTES: Final = 1 << 20
"""Largest payload either side accepts (bytes)."""

_HEADER: Final = struct.Struct(">cI")
_SUBHEADER: Final = struct.Struct(">H")


class MessageKind(bytes, Enum):
    """The message kinds; upper case travels to the media process, lower case back."""

    JOIN = b"J"
    """JSON: url, token, publish_rate_hz, subscribe_rate_hz, frame_ms, opus_complexity."""
    CALLER_AUDIO = b"A"
    """PCM16 LE mono at publish_rate_hz."""
    CLEAR_AUDIO = b"C"
    """Drop caller audio not yet sent (empty)."""
    SEND_DTMF = b"D"
    """JSON: code, digit."""
    SEND_DATA = b"M"
    """Header JSON (topic, destinations) + payload, see :func:`join_header`."""
    JOINED = b"j"
    """JSON: identity, codec, participants."""
    ERROR = b"e"
    """JSON: error. The connection closes after it."""
    AGENT_AUDIO = b"a"
    """PCM16 LE mono at subscribe_rate_hz, frame_ms long."""
    PARTICIPANT = b"p"
    """JSON: identity, kind, attributes."""
    PARTICIPANT_LEFT = b"l"
    """JSON: identity."""
    ATTRIBUTES = b"s"
    """JSON: identity, changed."""
    DTMF = b"d"
    """JSON: identity, code, digit."""
    DATA = b"m"
    """Header JSON (identity, topic) + payload."""
    DISCONNECTED = b"x"
    """JSON: reason."""


def encode_message(kind: MessageKind, payload: bytes = b"") -> bytes:
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
    raw = json.dumps(header, separators=(",", ":")).encode()
    if len(raw) > 0xFFFF:
        raise ValueError(f"header of {len(raw)} bytes exceeds 65535")
    return _SUBHEADER.pack(len(raw)) + raw + body


def split_header(payload: bytes) -> tuple[dict[str, Any], bytes]:
    """Inverse of :func:`join_header`."""
    if len(payload) < _SUBHEADER.size:
        raise ValueError(f"message of {len(payload)} bytes has no header length")
    (size,) = _SUBHEADER.unpack_from(payload)
    end = _SUBHEADER.size + size
    if end > len(payload):
        raise ValueError(f"header of {size} bytes overruns the {len(payload)} byte message")
    return decode_json(payload[_SUBHEADER.size : end]), payload[end:]


def decode_json(payload: bytes) -> dict[str, Any]:
    """A JSON object payload; ValueError for anything else."""
    value = json.loads(payload)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
