"""Telnyx media-streaming codec (TeXML ``<Stream>`` / Call Control ``stream_url``), no I/O.

Wire facts (developers.telnyx.com, media-streaming AsyncAPI):

* every frame is text JSON; ``sequence_number``/``chunk``/``timestamp`` are decimal strings;
* the stream id is only at the top level as ``stream_id``; the call id is
  ``start.call_control_id``; ``connected`` has no ``protocol`` (Twilio's has one);
* inbound audio is the base64 RTP payload of the chosen codec (PCMU/PCMA 8 kHz, L16
  optional); ``media_format.encoding`` is ``PCMU`` or, in older docs, ``audio/x-mulaw``;
* outbound ``media``/``mark``/``clear`` need no ``stream_id``; each outbound RTP ``media``
  must hold 20 ms to 30 s of audio in the bidirectional codec and rate.
"""

from __future__ import annotations

from typing import Any, Final

from ..audio.format import TELNYX, AudioEncoding, AudioFormat
from . import _fields as f
from .base import (
    Carrier,
    Clear,
    Cleared,
    Connected,
    Dtmf,
    Error,
    InboundMessage,
    Mark,
    Media,
    OutboundCommand,
    SendMark,
    SendMedia,
    Start,
    Stop,
    b64decode_payload,
    b64encode_payload,
    dump_json,
    load_json_object,
)

__all__ = [
    "AUTH_TOKEN_KEY",
    "MAX_MEDIA_MS",
    "MEDIA_FORMAT",
    "MIN_MEDIA_MS",
    "TelnyxCodec",
    "bidirectional_codec_name",
]

CARRIER: Final = "telnyx"
MEDIA_FORMAT: Final[AudioFormat] = TELNYX
"""Default format both ways: PCMU (μ-law) 8000 Hz mono."""
MIN_MEDIA_MS: Final = 20
MAX_MEDIA_MS: Final = 30_000
AUTH_TOKEN_KEY: Final = "x-telnyx-streaming-auth-token"
"""Key of ``stream_auth_token`` in the ``connected`` frame (and the WS upgrade header)."""

_CODEC_NAMES: Final[dict[AudioEncoding, str]] = {
    AudioEncoding.MULAW: "PCMU",
    AudioEncoding.ALAW: "PCMA",
    AudioEncoding.PCM16_BE: "L16",
    AudioEncoding.PCM16: "L16",
}
_START_KEYS: Final = (
    "user_id",
    "call_control_id",
    "custom_parameters",
    "customParameters",
    "media_format",
)


def bidirectional_codec_name(fmt: AudioFormat) -> str:
    """The Telnyx codec label (``PCMU``, ``PCMA``, ``L16``) for an output format."""
    return _CODEC_NAMES[fmt.encoding]


class TelnyxCodec:
    """Telnyx media-stream frames ⇄ typed messages.

    ``output_format`` is the bidirectional codec and sampling rate set in the answer
    (default PCMU 8000 Hz). ``l16_encoding`` is the byte order assumed for ``L16``
    payloads: RTP L16 is big-endian (RFC 3551); Telnyx does not document it.
    """

    __slots__ = ("_l16", "_output_format", "_stream_id")

    def __init__(
        self,
        *,
        stream_id: str | None = None,
        output_format: AudioFormat = MEDIA_FORMAT,
        l16_encoding: AudioEncoding = AudioEncoding.PCM16_BE,
    ) -> None:
        if output_format.encoding not in _CODEC_NAMES:
            raise ValueError(f"{CARRIER}: unsupported output encoding {output_format.encoding!s}")
        self._stream_id = stream_id
        self._output_format = output_format
        self._l16 = l16_encoding

    @property
    def carrier(self) -> Carrier:
        return "telnyx"

    @property
    def output_format(self) -> AudioFormat:
        return self._output_format

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    def for_start(self, start: Start) -> TelnyxCodec:
        """A codec bound to the stream that ``start`` opened (same output format)."""
        return TelnyxCodec(
            stream_id=start.stream_id, output_format=self._output_format, l16_encoding=self._l16
        )

    def bind(self, message: InboundMessage) -> TelnyxCodec:
        """The codec to use after ``message``: bound to the stream a ``Start`` opens,
        otherwise ``self``. Call it on every parsed message; it is cheap."""
        return self.for_start(message) if isinstance(message, Start) else self

    # ------------------------------------------------------------------ inbound

    def parse(self, frame: str | bytes) -> InboundMessage:
        data = load_json_object(CARRIER, frame)
        if data.get("event") == "media":
            fast = f.fast_media(data, "sequence_number", "stream_id")
            if fast is not None:
                payload, sid, track, seq, chunk, stamp, extra = fast
                return Media(
                    payload=payload,
                    stream_id=sid,
                    track=track,
                    sequence_number=seq,
                    chunk=chunk,
                    timestamp_ms=stamp,
                    extra=extra,
                )
        event = f.req_str(CARRIER, data, "event")
        if event == "connected":
            return Connected(
                protocol=f.opt_str(CARRIER, data, "protocol"),
                version=f.opt_str(CARRIER, data, "version"),
                extra=f.extras(data, ("event", "protocol", "version")),
            )
        seq = f.opt_int(CARRIER, data, "sequence_number")
        sid = f.opt_str(CARRIER, data, "stream_id")
        extra = f.extras(data, ("event", "sequence_number", "stream_id", event))
        if event == "start":
            return self._parse_start(data, seq, sid, extra)
        if event == "media":
            media = f.req_obj(CARRIER, data, "media")
            return Media(
                payload=b64decode_payload(
                    CARRIER, "media.payload", f.req(CARRIER, media, "payload", "media")
                ),
                stream_id=sid,
                track=f.opt_str(CARRIER, media, "track", "media"),
                sequence_number=seq,
                chunk=f.opt_int(CARRIER, media, "chunk", "media"),
                timestamp_ms=f.opt_int(CARRIER, media, "timestamp", "media"),
                extra=extra,
            )
        if event == "dtmf":
            dtmf = f.req_obj(CARRIER, data, "dtmf")
            return Dtmf(
                digit=f.req_str(CARRIER, dtmf, "digit", "dtmf"),
                stream_id=sid,
                sequence_number=seq,
                extra=extra,
            )
        if event == "mark":
            mark = f.req_obj(CARRIER, data, "mark")
            return Mark(
                name=f.req_str(CARRIER, mark, "name", "mark"),
                stream_id=sid,
                sequence_number=seq,
                extra=extra,
            )
        if event == "stop":
            stop = data.get("stop")
            stop = stop if isinstance(stop, dict) else {}
            return Stop(
                call_id=f.opt_str(CARRIER, stop, "call_control_id", "stop"),
                account_id=f.opt_str(CARRIER, stop, "user_id", "stop"),
                stream_id=sid,
                sequence_number=seq,
                extra=extra,
            )
        if event == "error":
            # Documented as "error"; some clients read "payload": accept both.
            key = "payload" if "error" not in data and "payload" in data else "error"
            err = f.req_obj(CARRIER, data, key)
            code = f.req(CARRIER, err, "code", key)
            if isinstance(code, bool) or not isinstance(code, str | int):
                raise ValueError(f"{CARRIER}: field '{key}.code' must be a string or integer")
            return Error(
                code=str(code),
                title=f.opt_str(CARRIER, err, "title", key) or "",
                detail=f.opt_str(CARRIER, err, "detail", key) or "",
                stream_id=sid,
                sequence_number=seq,
                extra=f.extras(extra, ("payload",)),
            )
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        fmt = f.req_obj(CARRIER, start, "media_format", "start")
        encoding = f.req_str(CARRIER, fmt, "encoding", "start.media_format")
        rate = f.opt_int(CARRIER, fmt, "sample_rate", "start.media_format") or 8000
        media_format = f.wire_format(
            CARRIER, encoding, rate, where="start.media_format.encoding", l16=self._l16
        )
        params_key = "custom_parameters" if "custom_parameters" in start else "customParameters"
        return Start(
            call_id=f.req_str(CARRIER, start, "call_control_id", "start"),
            stream_id=sid,
            account_id=f.opt_str(CARRIER, start, "user_id", "start"),
            custom_parameters=f.str_map(CARRIER, start, params_key, "start"),
            media_format=media_format,
            wire_encoding=encoding,
            sequence_number=seq,
            details=f.extras(start, _START_KEYS),
            extra=extra,
        )

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        data = load_json_object(CARRIER, frame)
        event = f.req_str(CARRIER, data, "event")
        sid = f.opt_str(CARRIER, data, "stream_id")
        if event == "media":
            media = f.req_obj(CARRIER, data, "media")
            payload = b64decode_payload(
                CARRIER, "media.payload", f.req(CARRIER, media, "payload", "media")
            )
            self._check_media_size(len(payload))
            return SendMedia(payload=payload, stream_id=sid)
        if event == "mark":
            mark = f.req_obj(CARRIER, data, "mark")
            return SendMark(name=f.req_str(CARRIER, mark, "name", "mark"), stream_id=sid)
        if event == "clear":
            return Clear(stream_id=sid)
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    def _check_media_size(self, size: int) -> None:
        fmt = self._output_format
        low, high = fmt.frame_bytes(MIN_MEDIA_MS), fmt.frame_bytes(MAX_MEDIA_MS)
        if not low <= size <= high or size % fmt.bytes_per_sample:
            raise ValueError(
                f"{CARRIER}: media payload must hold 20 ms to 30 s of audio "
                f"({low} to {high} bytes of {bidirectional_codec_name(fmt)} at "
                f"{fmt.sample_rate} Hz), got {size} bytes"
            )

    # ------------------------------------------------------------------ serialize

    def serialize(self, message: OutboundCommand | InboundMessage) -> str:
        out: dict[str, Any]
        match message:
            case SendMedia():
                self._check_media_size(len(message.payload))
                out = {"event": "media"}
                f.put(out, "stream_id", message.stream_id)
                out["media"] = {"payload": b64encode_payload(message.payload)}
                return dump_json(out)
            case SendMark():
                out = {"event": "mark"}
                f.put(out, "stream_id", message.stream_id)
                out["mark"] = {"name": message.name}
                return dump_json(out)
            case Clear():
                out = {"event": "clear"}
                f.put(out, "stream_id", message.stream_id)
                return dump_json(out)
            case Connected():
                out = {"event": "connected"}
                f.put(out, "protocol", message.protocol)
                f.put(out, "version", message.version)
            case Start():
                start: dict[str, Any] = {}
                f.put(start, "user_id", message.account_id)
                start["call_control_id"] = message.call_id
                start.update(message.details)
                start["custom_parameters"] = dict(message.custom_parameters)
                start["media_format"] = {
                    "encoding": message.wire_encoding,
                    "sample_rate": message.media_format.sample_rate,
                    "channels": message.media_format.channels,
                }
                out = self._head("start", message.sequence_number, message.stream_id)
                out["start"] = start
            case Media():
                media: dict[str, Any] = {}
                f.put(media, "track", message.track)
                f.put(media, "chunk", f.as_num_str(message.chunk))
                f.put(media, "timestamp", f.as_num_str(message.timestamp_ms))
                media["payload"] = b64encode_payload(message.payload)
                out = self._head("media", message.sequence_number, message.stream_id)
                out["media"] = media
            case Dtmf():
                out = self._head("dtmf", message.sequence_number, message.stream_id)
                out["dtmf"] = {"digit": message.digit}
            case Mark():
                out = self._head("mark", message.sequence_number, message.stream_id)
                out["mark"] = {"name": message.name}
            case Stop():
                stop: dict[str, Any] = {}
                f.put(stop, "user_id", message.account_id)
                f.put(stop, "call_control_id", message.call_id)
                out = self._head("stop", message.sequence_number, message.stream_id)
                out["stop"] = stop
            case Error():
                out = self._head("error", message.sequence_number, message.stream_id)
                out["error"] = {
                    "title": message.title,
                    "code": message.code,
                    "detail": message.detail,
                }
            case Cleared():
                raise ValueError(f"{CARRIER}: Telnyx sends no 'cleared' message")
        return dump_json({**out, **message.extra})

    def _head(self, event: str, seq: int | None, sid: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"event": event}
        f.put(out, "sequence_number", f.as_num_str(seq))
        f.put(out, "stream_id", sid or self._stream_id)
        return out
