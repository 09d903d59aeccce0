"""What the JSON carriers' codecs (Twilio, Telnyx, Plivo) share, no I/O.

All three send one JSON object per text frame: an ``event`` name, a sequence number and a
stream id at the top level (under each carrier's own key names), and audio as base64 in
``media.payload``. :class:`JsonStreamCodec` is that common part: binding to a stream, the
per-frame ``media`` fast path, the stream head and the ``media`` object.
:class:`TwilioStyleCodec` adds the event set Telnyx copied from Twilio: ``connected``,
nested ``dtmf``/``mark``/``stop`` objects and the ``media``/``mark``/``clear`` commands.

A carrier codec subclasses one of them, names its keys in class constants and writes
only what is its own (``start``, Plivo's events and commands).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, Self

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import _fields as f
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
    b64decode_payload,
    b64encode_payload,
    dump_json,
    load_json_object,
)

__all__ = ["JsonStreamCodec", "TwilioStyleCodec"]


class JsonStreamCodec:
    """Base of the JSON carrier codecs: ``stream_id`` addresses outbound commands,
    ``output_format`` is what :class:`SendMedia` payloads are in."""

    __slots__ = ("_output_format", "_stream_id")

    _CARRIER: ClassVar[str]
    _NAME: ClassVar[str]
    """The carrier's name in prose (``Twilio``), for ``sends no ...`` errors."""
    _SEQ_KEY: ClassVar[str]
    """Top-level key of the sequence number (``sequenceNumber``)."""
    _SID_KEY: ClassVar[str]
    """Top-level key of the stream id (``streamSid``)."""
    _FRAME_EXTRA_KEY: ClassVar[str] = ""
    """A top-level key the carrier puts on every frame (Plivo ``extra_headers``)."""
    _SEQ_AS_STRING: ClassVar[bool] = True
    """Whether the sequence number is sent as a decimal string (Twilio, Telnyx)."""

    def __init__(self, *, stream_id: str | None, output_format: AudioFormat) -> None:
        self._stream_id = stream_id
        self._output_format = output_format

    @property
    def carrier(self) -> str:
        return self._CARRIER

    @property
    def output_format(self) -> AudioFormat:
        return self._output_format

    @property
    def stream_id(self) -> str | None:
        return self._stream_id

    def for_start(self, start: Start) -> Self:
        """A codec addressing the stream that ``start`` opened (same settings otherwise)."""
        bound = copy.copy(self)
        bound._stream_id = start.stream_id
        return bound

    def bind(self, message: InboundMessage) -> Self:
        """The codec to use after ``message``: bound to the stream a ``Start`` opens,
        otherwise ``self``. Call it on every parsed message; it is cheap."""
        return self.for_start(message) if isinstance(message, Start) else self

    # ------------------------------------------------------------------ inbound

    def parse(self, frame: str | bytes) -> InboundMessage:
        data = load_json_object(self._CARRIER, frame)
        if data.get("event") == "media":
            media = f.fast_media(data, self._SEQ_KEY, self._SID_KEY, self._FRAME_EXTRA_KEY)
            if media is not None:
                return media
        return self._parse_event(f.req_str(self._CARRIER, data, "event"), data)

    def _parse_event(self, event: str, data: dict[str, Any]) -> InboundMessage:
        """Parse a frame whose ``event`` is ``event`` (the carrier's event list)."""
        raise NotImplementedError

    def _stream_head(self, data: dict[str, Any]) -> tuple[int | None, str | None]:
        """The frame's sequence number and stream id (validated, None when absent)."""
        carrier = self._CARRIER
        return f.opt_int(carrier, data, self._SEQ_KEY), f.opt_str(carrier, data, self._SID_KEY)

    def _frame_extra(self, data: dict[str, Any], *known: str) -> dict[str, Any]:
        """Top-level keys other than ``event``, the stream head and ``known``."""
        return f.extras(data, ("event", self._SEQ_KEY, self._SID_KEY, *known))

    def _media_payload(self, media: dict[str, Any]) -> bytes:
        """The decoded ``media.payload`` (bytes)."""
        carrier = self._CARRIER
        return b64decode_payload(
            carrier, "media.payload", f.req(carrier, media, "payload", "media")
        )

    def _parse_media(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Media:
        """The validating path for ``media`` (the fast path declined the frame)."""
        carrier = self._CARRIER
        media = f.req_obj(carrier, data, "media")
        return Media(
            payload=self._media_payload(media),
            stream_id=sid,
            track=f.opt_str(carrier, media, "track", "media"),
            sequence_number=seq,
            chunk=f.opt_int(carrier, media, "chunk", "media"),
            timestamp_ms=f.opt_int(carrier, media, "timestamp", "media"),
            extra=extra,
        )

    def _start_format(
        self,
        start: dict[str, Any],
        key: str,
        rate_key: str,
        l16: AudioEncoding = AudioEncoding.PCM16,
    ) -> tuple[str, AudioFormat]:
        """``start[key]``: the carrier's encoding label and its AudioFormat (the rate
        under ``rate_key`` defaults to 8000 Hz; ``l16`` is the L16 byte order)."""
        carrier, where = self._CARRIER, f"start.{key}"
        fmt = f.req_obj(carrier, start, key, "start")
        encoding = f.req_str(carrier, fmt, "encoding", where)
        rate = f.opt_int(carrier, fmt, rate_key, where) or 8000
        return encoding, f.wire_format(carrier, encoding, rate, where=f"{where}.encoding", l16=l16)

    def _unknown(self, event: str) -> ValueError:
        return ValueError(f"{self._CARRIER}: unknown event {event!r}")

    # ------------------------------------------------------------------ serialize

    def _require_sid(self, stream_id: str | None) -> str:
        """``stream_id``, else the bound one; ValueError when neither is known."""
        sid = stream_id or self._stream_id
        if not sid:
            raise ValueError(
                f"{self._CARRIER}: {self._SID_KEY} unknown: bind the codec with for_start()"
            )
        return sid

    def _head(self, event: str, seq: int | None, sid: str | None) -> dict[str, Any]:
        """``event``, sequence number and stream id (else the bound one), absent when None."""
        out: dict[str, Any] = {"event": event}
        f.put(out, self._SEQ_KEY, f.as_num_str(seq) if self._SEQ_AS_STRING else seq)
        f.put(out, self._SID_KEY, sid or self._stream_id)
        return out

    def _sends_no(self, message: InboundMessage) -> ValueError:
        return ValueError(f"{self._CARRIER}: {self._NAME} sends no {message.type!r} message")


class TwilioStyleCodec(JsonStreamCodec):
    """Twilio's event set (Telnyx copied it): ``connected``, ``start``, ``media``, ``dtmf``,
    ``mark``, ``stop`` in, ``media``/``mark``/``clear`` out; each event's body is an
    object under the event's name. Numbers are decimal strings."""

    __slots__ = ()

    _CALL_KEY: ClassVar[str]
    """Key of the call id in ``start``/``stop`` (``callSid``)."""
    _ACCOUNT_KEY: ClassVar[str]
    """Key of the account id in ``start``/``stop`` (``accountSid``)."""
    _DTMF_TRACK: ClassVar[bool]
    """Whether ``dtmf`` carries a ``track``."""
    _COMMANDS_NEED_SID: ClassVar[bool]
    """Whether outbound commands must carry the stream id (else it is optional and only
    the command's own ``stream_id`` is sent)."""

    # ------------------------------------------------------------------ inbound

    def _parse_event(self, event: str, data: dict[str, Any]) -> InboundMessage:
        seq, sid = self._stream_head(data)
        if event == "connected":
            return self._parse_connected(data)
        extra = self._frame_extra(data, event)
        if event == "start":
            return self._parse_start(data, seq, sid, extra)
        if event == "media":
            return self._parse_media(data, seq, sid, extra)
        if event == "dtmf":
            return self._parse_dtmf(data, seq, sid, extra)
        if event == "mark":
            mark = f.req_obj(self._CARRIER, data, "mark")
            name = f.req_str(self._CARRIER, mark, "name", "mark")
            return Mark(name=name, stream_id=sid, sequence_number=seq, extra=extra)
        if event == "stop":
            return self._parse_stop(data, seq, sid, extra)
        return self._parse_other(event, data, seq, sid, extra)

    def _parse_connected(self, data: dict[str, Any]) -> Connected:
        return Connected(
            protocol=f.opt_str(self._CARRIER, data, "protocol"),
            version=f.opt_str(self._CARRIER, data, "version"),
            extra=f.extras(data, ("event", "protocol", "version")),
        )

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        raise NotImplementedError

    def _parse_dtmf(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Dtmf:
        carrier = self._CARRIER
        dtmf = f.req_obj(carrier, data, "dtmf")
        return Dtmf(
            digit=f.req_str(carrier, dtmf, "digit", "dtmf"),
            stream_id=sid,
            track=f.opt_str(carrier, dtmf, "track", "dtmf") if self._DTMF_TRACK else None,
            sequence_number=seq,
            extra=extra,
        )

    def _parse_stop(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Stop:
        stop = data.get("stop")
        stop = stop if isinstance(stop, dict) else {}
        return Stop(
            call_id=f.opt_str(self._CARRIER, stop, self._CALL_KEY, "stop"),
            account_id=f.opt_str(self._CARRIER, stop, self._ACCOUNT_KEY, "stop"),
            stream_id=sid,
            sequence_number=seq,
            extra=extra,
        )

    def _parse_other(
        self,
        event: str,
        data: dict[str, Any],
        seq: int | None,
        sid: str | None,
        extra: dict[str, Any],
    ) -> InboundMessage:
        """An event beyond Twilio's set (none by default)."""
        raise self._unknown(event)

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        carrier = self._CARRIER
        data = load_json_object(carrier, frame)
        event = f.req_str(carrier, data, "event")
        sid: str | None
        if self._COMMANDS_NEED_SID:
            sid = f.req_str(carrier, data, self._SID_KEY)
        else:
            sid = f.opt_str(carrier, data, self._SID_KEY)
        if event == "media":
            payload = self._media_payload(f.req_obj(carrier, data, "media"))
            self._check_media_size(len(payload))
            return SendMedia(payload=payload, stream_id=sid)
        if event == "mark":
            mark = f.req_obj(carrier, data, "mark")
            return SendMark(name=f.req_str(carrier, mark, "name", "mark"), stream_id=sid)
        if event == "clear":
            return Clear(stream_id=sid)
        raise self._unknown(event)

    def _check_media_size(self, size: int) -> None:
        """Reject an outbound ``media`` payload of ``size`` bytes the carrier refuses."""

    # ------------------------------------------------------------------ serialize

    def serialize(self, message: OutboundCommand | InboundMessage) -> str:
        out: dict[str, Any]
        match message:
            case SendMedia():
                self._check_media_size(len(message.payload))
                media_out = {"payload": b64encode_payload(message.payload)}
                return self._command("media", message.stream_id, media_out)
            case SendMark():
                return self._command("mark", message.stream_id, {"name": message.name})
            case Clear():
                return self._command("clear", message.stream_id)
            case Connected():
                out = {"event": "connected"}
                f.put(out, "protocol", message.protocol)
                f.put(out, "version", message.version)
            case Start():
                out = self._serialize_start(message)
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
                if self._DTMF_TRACK:
                    f.put(dtmf, "track", message.track)
                dtmf["digit"] = message.digit
                out = self._head("dtmf", message.sequence_number, message.stream_id)
                out["dtmf"] = dtmf
            case Mark():
                out = self._head("mark", message.sequence_number, message.stream_id)
                out["mark"] = {"name": message.name}
            case Stop():
                stop: dict[str, Any] = {}
                f.put(stop, self._ACCOUNT_KEY, message.account_id)
                f.put(stop, self._CALL_KEY, message.call_id)
                out = self._head("stop", message.sequence_number, message.stream_id)
                out["stop"] = stop
            case Error():
                out = self._serialize_error(message)
            case Cleared():
                raise self._sends_no(message)
        return dump_json({**out, **message.extra})

    def _command(
        self, event: str, stream_id: str | None, body: dict[str, Any] | None = None
    ) -> str:
        """An outbound command frame; ``body`` goes under the event's name."""
        out: dict[str, Any] = {"event": event}
        sid = self._require_sid(stream_id) if self._COMMANDS_NEED_SID else stream_id
        f.put(out, self._SID_KEY, sid)
        if body is not None:
            out[event] = body
        return dump_json(out)

    def _serialize_start(self, message: Start) -> dict[str, Any]:
        raise NotImplementedError

    def _serialize_error(self, message: Error) -> dict[str, Any]:
        raise self._sends_no(message)
