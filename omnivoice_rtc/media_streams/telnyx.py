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

from omnivoice_rtc.audio.format import TELNYX, AudioEncoding, AudioFormat
from omnivoice_rtc.media_streams import _fields as f
from omnivoice_rtc.media_streams._json_codec import TwilioStyleCodec
from omnivoice_rtc.media_streams.messages import Error, InboundMessage, Start

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


class TelnyxCodec(TwilioStyleCodec):
    """Telnyx media-stream frames ⇄ typed messages.

    ``output_format`` is the bidirectional codec and sampling rate set in the answer
    (default PCMU 8000 Hz). ``l16_encoding`` is the byte order assumed for ``L16``
    payloads: RTP L16 is big-endian (RFC 3551); Telnyx does not document it.
    """

    __slots__ = ("_l16",)

    _CARRIER = CARRIER
    _NAME = "Telnyx"
    _SEQ_KEY = "sequence_number"
    _SID_KEY = "stream_id"
    _CALL_KEY = "call_control_id"
    _ACCOUNT_KEY = "user_id"
    _DTMF_TRACK = False
    _COMMANDS_NEED_SID = False

    def __init__(
        self,
        *,
        stream_id: str | None = None,
        output_format: AudioFormat = MEDIA_FORMAT,
        l16_encoding: AudioEncoding = AudioEncoding.PCM16_BE,
    ) -> None:
        if output_format.encoding not in _CODEC_NAMES:
            raise ValueError(f"{CARRIER}: unsupported output encoding {output_format.encoding!s}")
        super().__init__(stream_id=stream_id, output_format=output_format)
        self._l16 = l16_encoding

    # ------------------------------------------------------------------ inbound

    def _parse_event(self, event: str, data: dict[str, Any]) -> InboundMessage:
        if event == "connected":  # parsed before the stream head is validated
            return self._parse_connected(data)
        return super()._parse_event(event, data)

    def _parse_start(
        self, data: dict[str, Any], seq: int | None, sid: str | None, extra: dict[str, Any]
    ) -> Start:
        start = f.req_obj(CARRIER, data, "start")
        encoding, media_format = self._start_format(
            start, "media_format", "sample_rate", l16=self._l16
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

    def _parse_other(
        self,
        event: str,
        data: dict[str, Any],
        seq: int | None,
        sid: str | None,
        extra: dict[str, Any],
    ) -> InboundMessage:
        if event != "error":
            raise self._unknown(event)
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

    def _serialize_start(self, message: Start) -> dict[str, Any]:
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
        return out

    def _serialize_error(self, message: Error) -> dict[str, Any]:
        out = self._head("error", message.sequence_number, message.stream_id)
        out["error"] = {"title": message.title, "code": message.code, "detail": message.detail}
        return out
