"""Plivo audio-streaming codec (``<Stream bidirectional="true">``), no I/O.

Wire facts (plivo.com/docs/voice/audio-streaming, stream event protocol):

* every frame is text JSON; there is **no** ``connected``: ``start`` comes first;
  ``sequenceNumber`` and ``media.chunk`` are numbers, ``media.timestamp`` is a string of
  Unix ms;
* the call id is ``start.callId``, the stream id ``start.streamId`` (and top-level
  ``streamId`` on later frames); ``extraHeaders`` from the XML arrive on every frame as
  the string ``extra_headers`` (``k=v`` pairs separated by ``,`` or ``;``);
* audio is μ-law 8000 Hz or L16 (little-endian) 8000/16000 Hz as set by ``contentType``;
* outbound: ``playAudio`` (carries contentType + sampleRate), ``checkpoint`` (answered by
  ``playedStream``; one article says ``played``: both are accepted) and ``clearAudio``
  (answered by ``clearedAudio``); no ``stop`` is documented: the socket close ends it.
"""

from __future__ import annotations

from typing import Any, Final

from ..audio.format import PLIVO, PLIVO_L16_8K, PLIVO_L16_16K, AudioEncoding, AudioFormat
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
    "MEDIA_FORMAT",
    "SUPPORTED_FORMATS",
    "PlivoCodec",
    "format_extra_headers",
    "parse_extra_headers",
    "stream_content_type",
    "wire_content_type",
]

CARRIER: Final = "plivo"
MEDIA_FORMAT: Final[AudioFormat] = PLIVO
"""Default: μ-law 8000 Hz."""
SUPPORTED_FORMATS: Final = (PLIVO, PLIVO_L16_8K, PLIVO_L16_16K)


def wire_content_type(fmt: AudioFormat) -> str:
    """The ``playAudio``/``mediaFormat`` label: ``audio/x-mulaw`` or ``audio/x-l16``."""
    if fmt not in SUPPORTED_FORMATS:
        raise ValueError(
            f"{CARRIER}: unsupported audio format {fmt.encoding!s}/{fmt.sample_rate} Hz "
            "(μ-law 8000 Hz or L16 8000/16000 Hz)"
        )
    return "audio/x-mulaw" if fmt.encoding is AudioEncoding.MULAW else "audio/x-l16"


def stream_content_type(fmt: AudioFormat) -> str:
    """The XML ``<Stream contentType>`` value, e.g. ``audio/x-mulaw;rate=8000``."""
    return f"{wire_content_type(fmt)};rate={fmt.sample_rate}"


def parse_extra_headers(value: str) -> dict[str, str]:
    """Parse ``extra_headers`` (``k=v`` pairs separated by ``,`` or ``;``)."""
    out: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        key, sep, val = part.strip().partition("=")
        if key and sep:
            out[key.strip()] = val.strip()
    return out


def format_extra_headers(headers: dict[str, str] | Any) -> str:
    """``{"a": "1", "b": "2"}`` → ``a=1,b=2``; keys and values must be alphanumeric."""
    for key, value in headers.items():
        if not (key.isascii() and key.isalnum() and value.isascii() and value.isalnum()):
            raise ValueError(
                f"{CARRIER}: extraHeaders keys and values must be alphanumeric, got {key!r}"
            )
    return ",".join(f"{k}={v}" for k, v in headers.items())


class PlivoCodec:
    """Plivo stream frames ⇄ typed messages.

    ``output_format`` is what :class:`SendMedia` payloads are in (μ-law 8000 Hz or L16
    8000/16000 Hz); ``stream_id`` addresses ``checkpoint``/``clearAudio``.
    """

    __slots__ = ("_output_format", "_stream_id")

    def __init__(
        self, *, stream_id: str | None = None, output_format: AudioFormat = MEDIA_FORMAT
    ) -> None:
        wire_content_type(output_format)  # validates
        self._stream_id = stream_id
        self._output_format = output_format

    @property
    def carrier(self) -> Carrier:
        return "plivo"

    @property
    def output_format(self) -> AudioFormat:
        return self._output_format

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    def for_start(self, start: Start) -> PlivoCodec:
        """A codec bound to ``start``'s stream (same output format)."""
        return PlivoCodec(stream_id=start.stream_id, output_format=self._output_format)

    def bind(self, message: InboundMessage) -> PlivoCodec:
        """The codec to use after ``message``: bound to the stream a ``Start`` opens,
        otherwise ``self``. Call it on every parsed message; it is cheap."""
        return self.for_start(message) if isinstance(message, Start) else self

    # ------------------------------------------------------------------ inbound

    def parse(self, frame: str | bytes) -> InboundMessage:
        data = load_json_object(CARRIER, frame)
        if data.get("event") == "media":
            fast = f.fast_media(data, "sequenceNumber", "streamId", "extra_headers")
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
        seq = f.opt_int(CARRIER, data, "sequenceNumber")
        sid = f.opt_str(CARRIER, data, "streamId")
        if event == "start":
            return self._parse_start(data, seq)
        known: tuple[str, ...] = ("event", "sequenceNumber", "streamId", event)
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
                extra=f.extras(data, known),
            )
        if event == "dtmf":
            dtmf = f.req_obj(CARRIER, data, "dtmf")
            return Dtmf(
                digit=f.req_str(CARRIER, dtmf, "digit", "dtmf"),
                stream_id=sid,
                track=f.opt_str(CARRIER, dtmf, "track", "dtmf"),
                sequence_number=seq,
                timestamp_ms=f.opt_int(CARRIER, dtmf, "timestamp", "dtmf"),
                extra=f.extras(data, known),
            )
        if event in ("playedStream", "played"):
            return Mark(
                name=f.req_str(CARRIER, data, "name"),
                stream_id=sid,
                sequence_number=seq,
                extra=f.extras(data, (*known, "name")),
            )
        if event == "clearedAudio":
            return Cleared(stream_id=sid, sequence_number=seq, extra=f.extras(data, known))
        if event == "stop":  # not documented; accepted for robustness
            return Stop(stream_id=sid, sequence_number=seq, extra=f.extras(data, known))
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    def _parse_start(self, data: dict[str, Any], seq: int | None) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        fmt = f.req_obj(CARRIER, start, "mediaFormat", "start")
        encoding = f.req_str(CARRIER, fmt, "encoding", "start.mediaFormat")
        rate = f.opt_int(CARRIER, fmt, "sampleRate", "start.mediaFormat") or 8000
        media_format = f.wire_format(CARRIER, encoding, rate, where="start.mediaFormat.encoding")
        headers = f.opt_str(CARRIER, data, "extra_headers")
        return Start(
            call_id=f.req_str(CARRIER, start, "callId", "start"),
            stream_id=f.req_str(CARRIER, start, "streamId", "start"),
            account_id=f.opt_str(CARRIER, start, "accountId", "start"),
            tracks=f.str_tuple(CARRIER, start, "tracks", "start"),
            custom_parameters=parse_extra_headers(headers) if headers else {},
            media_format=media_format,
            wire_encoding=encoding,
            sequence_number=seq,
            details=f.extras(start, ("callId", "streamId", "accountId", "tracks", "mediaFormat")),
            extra=f.extras(data, ("event", "sequenceNumber", "start", "extra_headers")),
        )

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        data = load_json_object(CARRIER, frame)
        event = f.req_str(CARRIER, data, "event")
        sid = f.opt_str(CARRIER, data, "streamId")
        if event == "playAudio":
            media = f.req_obj(CARRIER, data, "media")
            ctype = f.req_str(CARRIER, media, "contentType", "media")
            rate = f.opt_int(CARRIER, media, "sampleRate", "media")
            if rate is None:
                raise ValueError(f"{CARRIER}: missing field 'media.sampleRate'")
            fmt = f.wire_format(CARRIER, ctype, rate, where="media.contentType")
            wire_content_type(fmt)
            payload = b64decode_payload(
                CARRIER, "media.payload", f.req(CARRIER, media, "payload", "media")
            )
            self._check_payload(fmt, len(payload))
            return SendMedia(payload=payload, stream_id=sid, media_format=fmt)
        if event == "checkpoint":
            return SendMark(name=f.req_str(CARRIER, data, "name"), stream_id=sid)
        if event == "clearAudio":
            return Clear(stream_id=sid)
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    @staticmethod
    def _check_payload(fmt: AudioFormat, size: int) -> None:
        if size % fmt.bytes_per_sample:
            raise ValueError(
                f"{CARRIER}: L16 payload must have an even number of bytes, got {size} bytes"
            )

    # ------------------------------------------------------------------ serialize

    def _sid(self, stream_id: str | None) -> str:
        sid = stream_id or self._stream_id
        if not sid:
            raise ValueError(f"{CARRIER}: streamId unknown: bind the codec with for_start()")
        return sid

    def serialize(self, message: OutboundCommand | InboundMessage) -> str:
        out: dict[str, Any]
        match message:
            case SendMedia():
                fmt = message.media_format or self._output_format
                self._check_payload(fmt, len(message.payload))
                out = {"event": "playAudio"}
                f.put(out, "streamId", message.stream_id)
                out["media"] = {
                    "contentType": wire_content_type(fmt),
                    "sampleRate": fmt.sample_rate,
                    "payload": b64encode_payload(message.payload),
                }
                return dump_json(out)
            case SendMark():
                return dump_json(
                    {
                        "event": "checkpoint",
                        "streamId": self._sid(message.stream_id),
                        "name": message.name,
                    }
                )
            case Clear():
                return dump_json({"event": "clearAudio", "streamId": self._sid(message.stream_id)})
            case Start():
                start: dict[str, Any] = {"callId": message.call_id}
                f.put(start, "streamId", message.stream_id)
                f.put(start, "accountId", message.account_id)
                start["tracks"] = list(message.tracks)
                start["mediaFormat"] = {
                    "encoding": message.wire_encoding,
                    "sampleRate": message.media_format.sample_rate,
                }
                start.update(message.details)
                out = {"event": "start"}
                f.put(out, "sequenceNumber", message.sequence_number)
                out["start"] = start
                if message.custom_parameters:
                    out["extra_headers"] = ",".join(
                        f"{k}={v}" for k, v in message.custom_parameters.items()
                    )
            case Media():
                media: dict[str, Any] = {}
                f.put(media, "track", message.track)
                f.put(media, "timestamp", f.as_num_str(message.timestamp_ms))
                f.put(media, "chunk", message.chunk)
                media["payload"] = b64encode_payload(message.payload)
                out = self._head("media", message.sequence_number, message.stream_id)
                out["media"] = media
            case Dtmf():
                dtmf: dict[str, Any] = {}
                f.put(dtmf, "track", message.track)
                dtmf["digit"] = message.digit
                f.put(dtmf, "timestamp", f.as_num_str(message.timestamp_ms))
                out = self._head("dtmf", message.sequence_number, message.stream_id)
                out["dtmf"] = dtmf
            case Mark():
                out = self._head("playedStream", message.sequence_number, message.stream_id)
                out["name"] = message.name
            case Cleared():
                out = self._head("clearedAudio", message.sequence_number, message.stream_id)
            case Stop():
                out = self._head("stop", message.sequence_number, message.stream_id)
            case Connected() | Error():
                raise ValueError(f"{CARRIER}: Plivo sends no {message.type!r} message")
        return dump_json({**out, **message.extra})

    def _head(self, event: str, seq: int | None, sid: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"event": event}
        f.put(out, "sequenceNumber", seq)
        f.put(out, "streamId", sid or self._stream_id)
        return out
