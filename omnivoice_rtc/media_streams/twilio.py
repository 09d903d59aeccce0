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

from omnivoice_rtc.audio.format import TWILIO, AudioFormat
from omnivoice_rtc.media_streams import _fields as f
from omnivoice_rtc.media_streams._json_codec import TwilioStyleCodec
from omnivoice_rtc.media_streams.messages import Start

__all__ = ["FRAME_BYTES", "FRAME_MS", "MEDIA_FORMAT", "WIRE_ENCODING", "TwilioCodec"]

CARRIER: Final = "twilio"
MEDIA_FORMAT: Final[AudioFormat] = TWILIO
"""μ-law, 8000 Hz, mono: the only format Twilio streams in either direction."""
WIRE_ENCODING: Final = "audio/x-mulaw"
FRAME_MS: Final = 20
FRAME_BYTES: Final = 160
"""Bytes in one 20 ms μ-law frame at 8000 Hz."""


class TwilioCodec(TwilioStyleCodec):
    """Twilio Media Streams frames ⇄ typed messages.

    ``stream_id`` (the ``streamSid`` from ``start``) addresses outbound commands; use
    :meth:`for_start` to get a codec bound to a started stream.
    """

    __slots__ = ()

    _CARRIER = CARRIER
    _NAME = "Twilio"
    _SEQ_KEY = "sequenceNumber"
    _SID_KEY = "streamSid"
    _CALL_KEY = "callSid"
    _ACCOUNT_KEY = "accountSid"
    _DTMF_TRACK = True
    _COMMANDS_NEED_SID = True

    def __init__(self, *, stream_id: str | None = None) -> None:
        super().__init__(stream_id=stream_id, output_format=MEDIA_FORMAT)

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        inner_sid = f.opt_str(CARRIER, start, "streamSid", "start")
        encoding, media_format = self._start_format(start, "mediaFormat", "sampleRate")
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

    def _serialize_start(self, message: Start) -> dict[str, Any]:
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
        return out
