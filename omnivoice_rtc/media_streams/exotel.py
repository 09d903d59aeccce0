"""Exotel AgentStream codec (Voicebot applet, bidirectional), no I/O.

Wire facts (developer.exotel.com/docs/agentstream/websocket-protocol and
stream-voicebot-applet; docs/carriers.md lists what is not confirmed):

* every frame is text JSON with snake_case keys: ``sequence_number`` (a decimal string),
  ``stream_sid`` at the top level; ``connected`` is just ``{"event": "connected"}``;
* ``start.call_sid``/``account_sid``/``from``/``to``, ``start.custom_parameters`` (the
  query parameters of the stream URL), ``start.media_format`` with ``encoding``
  ``audio/x-raw`` (16-bit little-endian PCM), ``sample_rate`` and ``bit_rate`` as strings;
* audio is base64 PCM16 LE mono at 8000 Hz by default, 16000 or 24000 Hz when the stream URL
  asks with ``?sample-rate=``; Exotel sends about 100 ms per ``media`` message;
* ``dtmf`` carries ``digit`` and ``duration`` (ms, a string); ``mark`` echoes a mark we sent
  once the audio before it has played; ``stop`` ends the stream;
* outbound ``media``/``mark``/``clear`` carry ``stream_sid``; each outbound ``media`` must be
  a multiple of 320 bytes and at most 100 KB (:data:`MEDIA_MULTIPLE_BYTES`,
  :data:`MAX_MEDIA_BYTES`); Exotel recommends >= 100 ms per message.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import _fields as f
from omnivoice_rtc.media_streams._json_codec import TwilioStyleCodec
from omnivoice_rtc.media_streams.messages import (
    Dtmf,
    InboundMessage,
    OutboundCommand,
    Start,
    Stop,
    dump_json,
)

__all__ = [
    "MAX_MEDIA_BYTES",
    "MEDIA_FORMAT",
    "MEDIA_MULTIPLE_BYTES",
    "SUPPORTED_RATES",
    "WIRE_ENCODING",
    "ExotelCodec",
    "media_format",
]

CARRIER: Final = "exotel"
WIRE_ENCODING: Final = "audio/x-raw"
"""Exotel's label for 16-bit little-endian linear PCM."""
SUPPORTED_RATES: Final = (8000, 16000, 24000)
MEDIA_FORMAT: Final[AudioFormat] = AudioFormat(AudioEncoding.PCM16, 8000)
"""Default both ways: PCM16 LE 8000 Hz mono."""
MEDIA_MULTIPLE_BYTES: Final = 320
"""Every outbound ``media`` payload is a whole number of these (20 ms at 8000 Hz)."""
MAX_MEDIA_BYTES: Final = 100_000
_START_KEYS: Final = ("stream_sid", "call_sid", "account_sid", "custom_parameters", "media_format")
_STOP_KEYS: Final = frozenset({"call_sid", "account_sid"})


def media_format(sample_rate: int) -> AudioFormat:
    """PCM16 LE at ``sample_rate`` Hz (8000, 16000 or 24000)."""
    if sample_rate not in SUPPORTED_RATES:
        raise ValueError(
            f"{CARRIER}: sample rate must be 8000, 16000 or 24000 Hz, got {sample_rate}"
        )
    return AudioFormat(AudioEncoding.PCM16, sample_rate)


class ExotelCodec(TwilioStyleCodec):
    """Exotel AgentStream frames ⇄ typed messages.

    ``output_format`` is PCM16 LE at the stream's rate; :meth:`for_start` binds the codec
    to the stream's ``stream_sid`` and to the rate its ``start`` announces.
    """

    __slots__ = ()

    _CARRIER = CARRIER
    _NAME = "Exotel"
    _SEQ_KEY = "sequence_number"
    _SID_KEY = "stream_sid"
    _CALL_KEY = "call_sid"
    _ACCOUNT_KEY = "account_sid"
    _DTMF_TRACK = False
    _COMMANDS_NEED_SID = True

    def __init__(self, *, stream_id: str | None = None, sample_rate: int = 8000) -> None:
        super().__init__(stream_id=stream_id, output_format=media_format(sample_rate))

    def for_start(self, start: Start) -> ExotelCodec:
        """A codec addressing the stream ``start`` opened, at the rate it announced."""
        bound = copy.copy(self)
        bound._stream_id = start.stream_id
        if start.media_format.encoding is AudioEncoding.PCM16:
            bound._output_format = start.media_format
        return bound

    # ------------------------------------------------------------------ inbound

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        fmt = f.req_obj(CARRIER, start, "media_format", "start")
        encoding = f.req_str(CARRIER, fmt, "encoding", "start.media_format")
        rate = f.opt_int(CARRIER, fmt, "sample_rate", "start.media_format") or 8000
        if encoding.strip().lower() == WIRE_ENCODING:
            if rate not in SUPPORTED_RATES:
                raise ValueError(
                    f"{CARRIER}: unsupported start.media_format.sample_rate {rate} "
                    "(8000, 16000 or 24000 Hz)"
                )
            audio = AudioFormat(AudioEncoding.PCM16, rate)
        else:  # the beta extension guide also offers μ-law and L16 media formats
            audio = f.wire_format(CARRIER, encoding, rate, where="start.media_format.encoding")
        stream_id = sid or f.opt_str(CARRIER, start, "stream_sid", "start")
        if stream_id is None:
            raise ValueError(f"{CARRIER}: missing field 'stream_sid'")
        return Start(
            call_id=f.req_str(CARRIER, start, "call_sid", "start"),
            stream_id=stream_id,
            account_id=f.opt_str(CARRIER, start, "account_sid", "start"),
            custom_parameters=f.str_map(CARRIER, start, "custom_parameters", "start"),
            media_format=audio,
            wire_encoding=encoding,
            sequence_number=seq,
            details=f.extras(start, _START_KEYS),
            extra=extra,
        )

    def _parse_dtmf(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Dtmf:
        dtmf = f.req_obj(CARRIER, data, "dtmf")
        return Dtmf(
            digit=f.req_str(CARRIER, dtmf, "digit", "dtmf"),
            stream_id=sid,
            sequence_number=seq,
            duration_ms=f.opt_int(CARRIER, dtmf, "duration", "dtmf"),
            extra=extra,
        )

    def _parse_stop(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Stop:
        stop = super()._parse_stop(data, seq, sid, extra)
        body = data.get("stop")
        if isinstance(body, dict) and not body.keys() <= _STOP_KEYS:
            # ``stop.reason`` (and anything else unmodelled) is kept verbatim
            return Stop(
                call_id=stop.call_id,
                account_id=stop.account_id,
                stream_id=stop.stream_id,
                sequence_number=stop.sequence_number,
                extra={**stop.extra, "stop": dict(body)},
            )
        return stop

    def _check_media_size(self, size: int) -> None:
        if size % MEDIA_MULTIPLE_BYTES or size > MAX_MEDIA_BYTES:
            raise ValueError(
                f"{CARRIER}: media payload must be a multiple of {MEDIA_MULTIPLE_BYTES} bytes "
                f"and at most {MAX_MEDIA_BYTES} bytes, got {size} bytes"
            )

    # ------------------------------------------------------------------ serialize

    def serialize(self, message: OutboundCommand | InboundMessage) -> str:
        if isinstance(message, Dtmf):
            dtmf: dict[str, Any] = {"digit": message.digit}
            f.put(dtmf, "duration", f.as_num_str(message.duration_ms))
            out = self._head("dtmf", message.sequence_number, message.stream_id)
            out["dtmf"] = dtmf
            return dump_json({**out, **message.extra})
        return super().serialize(message)

    def _serialize_start(self, message: Start) -> dict[str, Any]:
        start: dict[str, Any] = {}
        f.put(start, "stream_sid", message.stream_id)
        start["call_sid"] = message.call_id
        f.put(start, "account_sid", message.account_id)
        start.update(message.details)
        start["custom_parameters"] = dict(message.custom_parameters)
        fmt = message.media_format
        start["media_format"] = {
            "encoding": message.wire_encoding,
            "sample_rate": str(fmt.sample_rate),
            "bit_rate": str(8 * fmt.encoding.bytes_per_sample),
        }
        out = self._head("start", message.sequence_number, message.stream_id)
        out["start"] = start
        return out
