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

from omnivoice_rtc.audio.format import (
    PLIVO,
    PLIVO_L16_8K,
    PLIVO_L16_16K,
    AudioEncoding,
    AudioFormat,
)
from omnivoice_rtc.media_streams import _fields as f
from omnivoice_rtc.media_streams._json_codec import JsonStreamCodec
from omnivoice_rtc.media_streams.messages import (
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


class PlivoCodec(JsonStreamCodec):
    """Plivo stream frames ⇄ typed messages.

    ``output_format`` is what :class:`SendMedia` payloads are in (μ-law 8000 Hz or L16
    8000/16000 Hz); ``stream_id`` addresses ``checkpoint``/``clearAudio``.
    """

    __slots__ = ()

    _CARRIER = CARRIER
    _NAME = "Plivo"
    _SEQ_KEY = "sequenceNumber"
    _SID_KEY = "streamId"
    _FRAME_EXTRA_KEY = "extra_headers"
    _SEQ_AS_STRING = False

    def __init__(
        self, *, stream_id: str | None = None, output_format: AudioFormat = MEDIA_FORMAT
    ) -> None:
        wire_content_type(output_format)  # validates
        super().__init__(stream_id=stream_id, output_format=output_format)

    # ------------------------------------------------------------------ inbound

    def _parse_event(self, event: str, data: dict[str, Any]) -> InboundMessage:
        seq, sid = self._stream_head(data)
        if event == "start":
            return self._parse_start(data, seq)
        if event == "media":
            return self._parse_media(data, seq, sid, self._frame_extra(data, event))
        if event == "dtmf":
            dtmf = f.req_obj(CARRIER, data, "dtmf")
            return Dtmf(
                digit=f.req_str(CARRIER, dtmf, "digit", "dtmf"),
                stream_id=sid,
                track=f.opt_str(CARRIER, dtmf, "track", "dtmf"),
                sequence_number=seq,
                timestamp_ms=f.opt_int(CARRIER, dtmf, "timestamp", "dtmf"),
                extra=self._frame_extra(data, event),
            )
        if event in ("playedStream", "played"):
            return Mark(
                name=f.req_str(CARRIER, data, "name"),
                stream_id=sid,
                sequence_number=seq,
                extra=self._frame_extra(data, event, "name"),
            )
        if event == "clearedAudio":
            return Cleared(stream_id=sid, sequence_number=seq, extra=self._frame_extra(data, event))
        if event == "stop":  # not documented; accepted for robustness
            return Stop(stream_id=sid, sequence_number=seq, extra=self._frame_extra(data, event))
        raise self._unknown(event)

    def _parse_start(self, data: dict[str, Any], seq: int | None) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        encoding, media_format = self._start_format(start, "mediaFormat", "sampleRate")
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
            payload = self._media_payload(media)
            self._check_payload(fmt, len(payload))
            return SendMedia(payload=payload, stream_id=sid, media_format=fmt)
        if event == "checkpoint":
            return SendMark(name=f.req_str(CARRIER, data, "name"), stream_id=sid)
        if event == "clearAudio":
            return Clear(stream_id=sid)
        raise self._unknown(event)

    @staticmethod
    def _check_payload(fmt: AudioFormat, size: int) -> None:
        if size % fmt.bytes_per_sample:
            raise ValueError(
                f"{CARRIER}: L16 payload must have an even number of bytes, got {size} bytes"
            )

    # ------------------------------------------------------------------ serialize

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
                        "streamId": self._require_sid(message.stream_id),
                        "name": message.name,
                    }
                )
            case Clear():
                sid = self._require_sid(message.stream_id)
                return dump_json({"event": "clearAudio", "streamId": sid})
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
                raise self._sends_no(message)
        return dump_json({**out, **message.extra})
