"""Typed media-stream messages shared by every carrier codec (no I/O).

A carrier codec (:mod:`.twilio`, :mod:`.telnyx`, :mod:`.vonage`, :mod:`.plivo`) turns
one WebSocket frame into one of the *inbound* message types below, and one *outbound*
command into one frame. Codecs are symmetric: they also serialize inbound messages and
parse outbound commands, so carrier simulators and golden tests use the same code.

Conventions:

* ``payload`` is always raw audio bytes (base64 already decoded).
* ``sequence_number``, ``chunk`` and ``timestamp_ms`` are ints whatever the carrier's
  JSON type (Twilio/Telnyx send strings, Plivo numbers); ``None`` when absent.
* ``extra`` keeps top-level keys a codec does not model (e.g. Plivo ``extra_headers`` on
  every frame, Telnyx ``occurred_at``) so that ``serialize(parse(frame))`` reproduces the
  same JSON object.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from omnivoice_rtc.audio.format import AudioFormat

__all__ = [
    "Clear",
    "Cleared",
    "Connected",
    "Dtmf",
    "Error",
    "InboundMessage",
    "Mark",
    "Media",
    "MediaStreamCodec",
    "OutboundCommand",
    "SendMark",
    "SendMedia",
    "Start",
    "Stop",
    "b64decode_payload",
    "b64encode_payload",
    "dump_json",
    "load_json_object",
]


def _empty() -> dict[str, Any]:
    return {}


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected:
    """The carrier's first message (Twilio, Telnyx, Vonage; Plivo sends none).

    ``media_format`` and ``custom_parameters`` are set for Vonage only (its
    ``content-type`` and the NCCO ``headers``, flattened to top-level keys).
    """

    type: Literal["connected"] = "connected"
    protocol: str | None = None
    version: str | None = None
    media_format: AudioFormat | None = None
    custom_parameters: Mapping[str, str] = field(default_factory=_empty)
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """The stream started. ``call_id`` is the carrier's call id (Twilio CallSid, Telnyx
    call_control_id, Plivo callId); ``media_format`` is the inbound audio format;
    ``wire_encoding`` is the carrier's own label for it (``audio/x-mulaw``, ``PCMU``, …).

    ``custom_parameters`` are the values set in the answer markup (Twilio/Telnyx
    ``<Parameter>``, Plivo ``extraHeaders``). ``details`` keeps carrier-specific keys of
    the ``start`` object that are not modelled (Telnyx ``from``/``to``/``client_state``…).
    """

    type: Literal["start"] = "start"
    call_id: str
    stream_id: str | None = None
    account_id: str | None = None
    tracks: tuple[str, ...] = ()
    custom_parameters: Mapping[str, str] = field(default_factory=_empty)
    media_format: AudioFormat
    wire_encoding: str
    sequence_number: int | None = None
    details: Mapping[str, Any] = field(default_factory=_empty)
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Media:
    """One audio frame from the carrier. ``timestamp_ms``: Twilio/Telnyx ms since stream
    start, Plivo Unix ms."""

    type: Literal["media"] = "media"
    payload: bytes
    stream_id: str | None = None
    track: str | None = None
    sequence_number: int | None = None
    chunk: int | None = None
    timestamp_ms: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dtmf:
    """One keypad digit pressed by the caller. ``duration_ms`` is set by Vonage only."""

    type: Literal["dtmf"] = "dtmf"
    digit: str
    stream_id: str | None = None
    track: str | None = None
    sequence_number: int | None = None
    duration_ms: int | None = None
    timestamp_ms: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    """A playback marker sent earlier came back: the audio queued before it has played
    (or was dropped by a clear). Twilio/Telnyx ``mark``, Vonage ``websocket:notify``,
    Plivo ``playedStream``."""

    type: Literal["mark"] = "mark"
    name: str
    stream_id: str | None = None
    sequence_number: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stop:
    """The stream ended (Twilio, Telnyx). Vonage and Plivo end by closing the socket."""

    type: Literal["stop"] = "stop"
    call_id: str | None = None
    stream_id: str | None = None
    account_id: str | None = None
    sequence_number: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleared:
    """The carrier acknowledged a flush (Vonage ``websocket:cleared``, Plivo ``clearedAudio``)."""

    type: Literal["cleared"] = "cleared"
    stream_id: str | None = None
    sequence_number: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """The carrier reported a stream error (Telnyx ``error``: code, title, detail)."""

    type: Literal["error"] = "error"
    code: str
    title: str = ""
    detail: str = ""
    stream_id: str | None = None
    sequence_number: int | None = None
    extra: Mapping[str, Any] = field(default_factory=_empty)


InboundMessage: TypeAlias = Connected | Start | Media | Dtmf | Mark | Stop | Cleared | Error

# --------------------------------------------------------------------------- outbound


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMedia:
    """Audio to play to the caller, already in the carrier's output encoding.

    ``stream_id`` and ``media_format`` default to the codec's (Plivo ``playAudio`` carries
    the format in every message); parsing a command fills them from the frame.
    """

    type: Literal["send_media"] = "send_media"
    payload: bytes
    stream_id: str | None = None
    media_format: AudioFormat | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMark:
    """Ask the carrier to echo ``name`` once everything queued before it has played."""

    type: Literal["send_mark"] = "send_mark"
    name: str
    stream_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Clear:
    """Flush the carrier's playback buffer (barge-in)."""

    type: Literal["clear"] = "clear"
    stream_id: str | None = None


OutboundCommand: TypeAlias = SendMedia | SendMark | Clear


class MediaStreamCodec(Protocol):
    """What every carrier codec offers. Instances are cheap and hold only configuration
    (stream id for addressing, output audio format); they never do I/O."""

    @property
    def carrier(self) -> str:
        """The carrier's name (see :mod:`omnivoice_rtc.carriers.registry`)."""
        ...

    @property
    def output_format(self) -> AudioFormat:
        """The audio format :class:`SendMedia` payloads must be in."""
        ...

    def bind(self, message: InboundMessage) -> MediaStreamCodec:
        """The codec for the frames after ``message`` (bound to the stream id or sample
        rate a ``Start``/``Connected`` announces; otherwise ``self``)."""
        ...

    def parse(self, frame: str | bytes) -> InboundMessage:
        """Parse one frame received from the carrier. Raises ValueError on bad input."""
        ...

    def serialize(self, message: OutboundCommand | InboundMessage) -> str | bytes:
        """Serialize a command for the carrier (or, for simulators, a carrier message)."""
        ...

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        """Parse one frame sent *to* the carrier (simulators, golden tests)."""
        ...


# --------------------------------------------------------------------------- helpers


def load_json_object(
    carrier: str, frame: str | bytes, *, binary_ok: bool = False
) -> dict[str, Any]:
    """Decode a text frame holding one JSON object; ValueError names the carrier.

    Hostile frames are a ValueError too, never another exception: nesting deeper than
    Python's recursion limit (``"[" * 60000``), integers longer than Python converts
    (4300 digits), text that is not UTF-8 (or holds lone surrogates)."""
    if isinstance(frame, bytes | bytearray | memoryview):
        if not binary_ok:
            raise ValueError(f"{carrier}: binary frame on a text-only protocol")
        try:
            frame = bytes(frame).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{carrier}: frame is not valid UTF-8") from None
    try:
        data = json.loads(frame)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{carrier}: invalid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise ValueError(f"{carrier}: invalid JSON: nested too deeply") from None
    except ValueError:  # an integer over Python's 4300-digit conversion limit
        raise ValueError(f"{carrier}: invalid JSON: a number is too long") from None
    if not isinstance(data, dict):
        raise ValueError(f"{carrier}: expected a JSON object, got {type(data).__name__}")
    return data


def dump_json(obj: Mapping[str, Any]) -> str:
    """Compact JSON as carriers send it (no spaces)."""
    return json.dumps(obj, separators=(",", ":"))


def b64decode_payload(carrier: str, where: str, value: Any) -> bytes:
    """Strictly decode a base64 audio payload; ValueError names the field."""
    if not isinstance(value, str):
        raise ValueError(f"{carrier}: {where} must be a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{carrier}: {where} is not valid base64") from None


def b64encode_payload(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")
