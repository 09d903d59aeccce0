"""Vonage Voice API WebSocket codec (NCCO ``connect`` → ``websocket`` endpoint), no I/O.

Wire facts (developer.vonage.com/voice/voice-api/concepts/websockets):

* audio is **binary**: 16-bit signed little-endian linear PCM (L16), mono, 20 ms per
  message: exactly 320 bytes at 8000 Hz or 640 bytes at 16000 Hz, both directions;
* control is text JSON: first ``websocket:connected`` (``content-type`` plus the NCCO
  ``headers`` flattened to top-level keys), then ``websocket:dtmf``,
  ``websocket:notify`` (answer to ``{"action":"notify"}``) and ``websocket:cleared``
  (answer to ``{"action":"clear"}``);
* there is no stream id and no stop message: the call ends when the socket closes.

Vonage documents that other text events should be ignored; :meth:`VonageCodec.parse`
raises ``ValueError("vonage: unknown event ...")`` for them so the caller can count and
drop them.
"""

from __future__ import annotations

from typing import Any, Final

from omnivoice_rtc._errors import FrameSizeError
from omnivoice_rtc.audio.format import VONAGE, VONAGE_8K, AudioEncoding, AudioFormat
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
    dump_json,
    load_json_object,
)

__all__ = [
    "FRAME_BYTES_8K",
    "FRAME_BYTES_16K",
    "FRAME_MS",
    "SUPPORTED_RATES",
    "VonageCodec",
    "content_type",
]

CARRIER: Final = "vonage"
FRAME_MS: Final = 20
FRAME_BYTES_8K: Final = 320
"""Bytes in one 20 ms L16 frame at 8000 Hz."""
FRAME_BYTES_16K: Final = 640
"""Bytes in one 20 ms L16 frame at 16000 Hz."""
SUPPORTED_RATES: Final = (8000, 16000)


def content_type(sample_rate: int) -> str:
    """The NCCO/``websocket:connected`` content type, e.g. ``audio/l16;rate=16000``."""
    if sample_rate not in SUPPORTED_RATES:
        raise ValueError(f"{CARRIER}: sample rate must be 8000 or 16000 Hz, got {sample_rate}")
    return f"audio/l16;rate={sample_rate}"


class VonageCodec:
    """Vonage WebSocket frames ⇄ typed messages.

    ``sample_rate`` (Hz, 8000 or 16000) must match the NCCO ``content-type``; it fixes the
    only legal binary frame size (320 or 640 bytes). :meth:`for_connected` returns a codec
    for the rate announced in ``websocket:connected``.
    """

    __slots__ = ("_format",)

    def __init__(self, *, sample_rate: int = 16000) -> None:
        content_type(sample_rate)  # validates the rate
        self._format = VONAGE if sample_rate == 16000 else VONAGE_8K

    @property
    def carrier(self) -> str:
        return "vonage"

    @property
    def output_format(self) -> AudioFormat:
        return self._format

    @property
    def frame_bytes(self) -> int:
        """The exact size of every binary audio message (bytes)."""
        return self._format.frame_bytes(FRAME_MS)

    def for_connected(self, connected: Connected) -> VonageCodec:
        """A codec for the sample rate in ``connected.media_format`` (unchanged if absent)."""
        if connected.media_format is None:
            return self
        return VonageCodec(sample_rate=connected.media_format.sample_rate)

    def _check_audio(self, size: int) -> None:
        if size != self.frame_bytes:
            raise FrameSizeError(
                f"{CARRIER}: audio frame must be exactly {self.frame_bytes} bytes "
                f"(20 ms of L16 at {self._format.sample_rate} Hz), got {size} bytes",
                size=size,
                expected=self.frame_bytes,
            )

    def bind(self, message: InboundMessage) -> VonageCodec:
        """The codec to use after ``message``: bound to the stream a ``Connected`` opens,
        otherwise ``self``. Call it on every parsed message; it is cheap."""
        return self.for_connected(message) if isinstance(message, Connected) else self

    # ------------------------------------------------------------------ inbound

    def parse(self, frame: str | bytes) -> InboundMessage:
        if isinstance(frame, bytes | bytearray | memoryview):
            payload = bytes(frame)
            self._check_audio(len(payload))
            return Media(payload=payload)
        data = load_json_object(CARRIER, frame)
        event = f.req_str(CARRIER, data, "event")
        if event == "websocket:connected":
            return self._parse_connected(data)
        if event == "websocket:dtmf":
            # Documented flat; some clients read a nested "dtmf" object: accept both.
            nested = data.get("dtmf")
            src, prefix = (nested, "dtmf") if isinstance(nested, dict) else (data, "")
            return Dtmf(
                digit=f.req_str(CARRIER, src, "digit", prefix),
                duration_ms=f.opt_int(CARRIER, src, "duration", prefix),
                extra=f.extras(data, ("event", "digit", "duration", "dtmf")),
            )
        if event == "websocket:notify":
            notify = f.req_obj(CARRIER, data, "payload")
            name = notify.get("name")
            if not isinstance(name, str):
                reply_id = notify.get("reply_id")
                name = reply_id if isinstance(reply_id, str) else ""
            extra = f.extras(data, ("event",))
            if extra == {"payload": {"name": name}}:
                extra = {}
            return Mark(name=name, extra=extra)
        if event == "websocket:cleared":
            return Cleared(extra=f.extras(data, ("event",)))
        raise ValueError(f"{CARRIER}: unknown event {event!r}")

    def _parse_connected(self, data: dict[str, Any]) -> Connected:
        ctype = f.req_str(CARRIER, data, "content-type")
        fmt = f.parse_content_type(CARRIER, ctype, where="content-type")
        if fmt.encoding is not AudioEncoding.PCM16 or fmt.sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"{CARRIER}: unsupported content-type {ctype!r}")
        headers = f.extras(data, ("event", "content-type"))
        return Connected(
            media_format=fmt,
            custom_parameters={k: v for k, v in headers.items() if isinstance(v, str)},
            extra={k: v for k, v in headers.items() if not isinstance(v, str)},
        )

    def parse_command(self, frame: str | bytes) -> OutboundCommand:
        if isinstance(frame, bytes | bytearray | memoryview):
            payload = bytes(frame)
            self._check_audio(len(payload))
            return SendMedia(payload=payload, media_format=self._format)
        data = load_json_object(CARRIER, frame)
        action = f.req_str(CARRIER, data, "action")
        if action == "clear":
            return Clear()
        if action == "notify":
            notify = f.req_obj(CARRIER, data, "payload")
            return SendMark(name=f.req_str(CARRIER, notify, "name", "payload"))
        raise ValueError(f"{CARRIER}: unknown action {action!r}")

    # ------------------------------------------------------------------ serialize

    def serialize(self, message: OutboundCommand | InboundMessage) -> str | bytes:
        out: dict[str, Any]
        match message:
            case SendMedia() | Media():
                if isinstance(message, SendMedia) and message.media_format not in (
                    None,
                    self._format,
                ):
                    raise ValueError(
                        f"{CARRIER}: media_format must be L16 at {self._format.sample_rate} Hz"
                    )
                self._check_audio(len(message.payload))
                return bytes(message.payload)
            case SendMark():
                return dump_json({"action": "notify", "payload": {"name": message.name}})
            case Clear():
                return dump_json({"action": "clear"})
            case Connected():
                rate = (message.media_format or self._format).sample_rate
                out = {"event": "websocket:connected", "content-type": content_type(rate)}
                out.update(message.custom_parameters)
            case Dtmf():
                out = {"event": "websocket:dtmf", "digit": message.digit}
                f.put(out, "duration", message.duration_ms)
            case Mark():
                out = {"event": "websocket:notify", "payload": {"name": message.name}}
            case Cleared():
                out = {"event": "websocket:cleared"}
            case Start() | Stop() | Error():
                raise ValueError(f"{CARRIER}: Vonage sends no {message.type!r} message")
        return dump_json({**out, **message.extra})
