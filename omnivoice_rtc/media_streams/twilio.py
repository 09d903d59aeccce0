"""Twilio Media Streams codec (bidirectional ``<Connect><Stream>``), no I/O.

Wire facts (twilio.com/docs/voice/media-streams/websocket-messages):

* every frame is text JSON; a binary frame is an error (Twilio warning 31950);
* ``sequenceNumber``, ``media.chunk`` and ``media.timestamp`` are decimal *strings*;
  ``media.timestamp`` is ms since the stream started;
* audio is always ``audio/x-mulaw`` 8000 Hz mono, typically 160 bytes per 20 ms frame;
* outbound ``media``/``mark``/``clear`` must carry the stream's ``streamSid``.
"""

from __future__ import annotations

from typing import Any, Final

from ..audio.format import TWILIO, AudioFormat
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

__all__ = ["FRAME_BYTES", "FRAME_MS", "MEDIA_FORMAT", "WIRE_ENCODING", "TwilioCodec"]

CARRIER: Final = "twilio"
MEDIA_FORMAT: Final[AudioFormat] = TWILIO
"""μ-law, 8000 Hz, mono: the only format Twilio streams in either direction."""
WIRE_ENCODING: Final = "audio/x-mulaw"
FRAME_MS: Final = 20
FRAME_BYTES: Final = 160
"""Bytes in one 20 ms μ-law frame at 8000 Hz."""


class TwilioCodec:
    """Twilio Media Streams frames ⇄ typed messages.

    ``stream_id`` (the ``streamSid`` from ``start``) addresses outbound commands; use
    :meth:`for_start` to get a codec bound to a started stream.
    """

    __slots__ = ("_stream_id",)

    def __init__(self, *, stream_id: str | None = None) -> None:
        self._stream_id = stream_id

    @property
    def carrier(self) -> Carrier:
        return "twilio"

    @property
    def output_format(self) -> AudioFormat:
        return MEDIA_FORMAT

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    def for_start(self, start: Start) -> TwilioCodec:
        """A codec addressing the stream that ``start`` opened."""
        return TwilioCodec(stream_id=start.stream_id)

    def bind(self, message: InboundMessage) -> TwilioCodec:
        """The codec to use after ``message``: bound to the stream a ``Start`` opens,
        otherwise ``self``. Call it on every parsed message; it is cheap."""
        return self.for_start(message) if isinstance(message, Start) else self

    # ------------------------------------------------------------------ inbound

    def parse(self, frame: str | bytes) -> InboundMessage:
        data = load_json_object(CARRIER, frame)
        if data.get("event") == "media":
            fast = f.fast_media(data, "sequenceNumber", "streamSid")
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
        sid = f.opt_str(CARRIER, data, "streamSid")
        if event == "connected":
            return Connected(
                protocol=f.opt_str(CARRIER, data, "protocol"),
                version=f.opt_str(CARRIER, data, "version"),
                extra=f.extras(data, ("event", "protocol", "version")),
            )
        known = ("event", "sequenceNumber", "streamSid", event)
        extra = f.extras(data, known)
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
                track=f.opt_str(CARRIER, dtmf, "track", "dtmf"),
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
                call_id=f.opt_str(CARRIER, stop, "callSid", "stop"),
                account_id=f.opt_str(CARRIER, stop, "accountSid", "stop"),
                stream_id=sid,
                sequence_number=seq,
                extra=extra,
            )
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        inner_sid = f.opt_str(CARRIER, start, "streamSid", "start")
        fmt = f.req_obj(CARRIER, start, "mediaFormat", "start")
        encoding = f.req_str(CARRIER, fmt, "encoding", "start.mediaFormat")
        rate = f.opt_int(CARRIER, fmt, "sampleRate", "start.mediaFormat") or 8000
        media_format = f.wire_format(CARRIER, encoding, rate, where="start.mediaFormat.encoding")
        stream_id = sid or inner_sid
        if stream_id is None:
            raise ValueError(f"{CARRIER}: missing field 'streamSid'")
        return Start(
            call_id=f.req_str(CARRIER, start, "callSid", "start"),
            stream_id=stream_id,
            account_id=f.opt_str(CARRIER, start, "accountSid", "start"),
            tracks=f.str_tuple(CARRIER, start, "tracks", "start"),
            custom_parameters=f.str_map(CARRIER, start, "customParameters", "start"),
            media_format=media_format,
            wire_encoding=encoding,
            sequence_number=seq,
            details=f.extras(
                start,
                ("accountSid", "streamSid", "callSid", "tracks", "customParameters", "mediaFormat"),
            ),
            extra=extra,
        )

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        data = load_json_object(CARRIER, frame)
        event = f.req_str(CARRIER, data, "event")
        sid = f.req_str(CARRIER, data, "streamSid")
        if event == "media":
            media = f.req_obj(CARRIER, data, "media")
            payload = b64decode_payload(
                CARRIER, "media.payload", f.req(CARRIER, media, "payload", "media")
            )
            return SendMedia(payload=payload, stream_id=sid)
        if event == "mark":
            mark = f.req_obj(CARRIER, data, "mark")
            return SendMark(name=f.req_str(CARRIER, mark, "name", "mark"), stream_id=sid)
        if event == "clear":
            return Clear(stream_id=sid)
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    # ------------------------------------------------------------------ serialize

    def _sid(self, stream_id: str | None) -> str:
        sid = stream_id or self._stream_id
        if not sid:
            raise ValueError(f"{CARRIER}: streamSid unknown: bind the codec with for_start()")
        return sid

    def serialize(self, message: OutboundCommand | InboundMessage) -> str:
        out: dict[str, Any]
        match message:
            case SendMedia():
                media_out = {"payload": b64encode_payload(message.payload)}
                return dump_json(
                    {
                        "event": "media",
                        "streamSid": self._sid(message.stream_id),
                        "media": media_out,
                    }
                )
            case SendMark():
                return dump_json(
                    {
                        "event": "mark",
                        "streamSid": self._sid(message.stream_id),
                        "mark": {"name": message.name},
                    }
                )
            case Clear():
                return dump_json({"event": "clear", "streamSid": self._sid(message.stream_id)})
            case Connected():
                out = {"event": "connected"}
                f.put(out, "protocol", message.protocol)
                f.put(out, "version", message.version)
                return dump_json({**out, **message.extra})
            case Start():
                start: dict[str, Any] = {}
                f.put(start, "accountSid", message.account_id)
                f.put(start, "streamSid", message.stream_id)
                start["callSid"] = message.call_id
                start["tracks"] = list(message.tracks)
                start["customParameters"] = dict(message.custom_parameters)
                start["mediaFormat"] = {
                    "encoding": message.wire_encoding,
                    "sampleRate": message.media_format.sample_rate,
                    "channels": message.media_format.channels,
                }
                start.update(message.details)
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
                dtmf: dict[str, Any] = {}
                f.put(dtmf, "track", message.track)
                dtmf["digit"] = message.digit
                out = self._head("dtmf", message.sequence_number, message.stream_id)
                out["dtmf"] = dtmf
            case Mark():
                out = self._head("mark", message.sequence_number, message.stream_id)
                out["mark"] = {"name": message.name}
            case Stop():
                stop: dict[str, Any] = {}
                f.put(stop, "accountSid", message.account_id)
                f.put(stop, "callSid", message.call_id)
                out = self._head("stop", message.sequence_number, message.stream_id)
                out["stop"] = stop
            case Cleared() | Error():
                raise ValueError(f"{CARRIER}: Twilio sends no {message.type!r} message")
        return dump_json({**out, **message.extra})

    def _head(self, event: str, seq: int | None, sid: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"event": event}
        f.put(out, "sequenceNumber", f.as_num_str(seq))
        f.put(out, "streamSid", sid or self._stream_id)
        return out
