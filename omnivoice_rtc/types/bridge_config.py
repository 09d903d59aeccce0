"""BridgeConfig (Go ``BridgeConfig``) and the Go JSON of ``format.AudioFormat``.

Reading and writing follow :mod:`.config` (live objects written as ``null``, never read;
Go's documented defaults for zero values).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnivoice_rtc._gojson import expect_type
from omnivoice_rtc.audio.format import OPENAI, TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.types._gostruct import GoStruct, go_field, parsing
from omnivoice_rtc.types.config import ProcessConfig, _never_read, _null

__all__ = ["BridgeConfig"]


_ENCODING_ALIASES = {
    # Go format.Encoding.Normalize: the names a Go service may write for each encoding
    "linear16": AudioEncoding.PCM16,
    "pcm16": AudioEncoding.PCM16,
    "pcm": AudioEncoding.PCM16,
    "pcm_s16le": AudioEncoding.PCM16,
    "mulaw": AudioEncoding.MULAW,
    "ulaw": AudioEncoding.MULAW,
    "g711u": AudioEncoding.MULAW,
    "pcm_mulaw": AudioEncoding.MULAW,
    "alaw": AudioEncoding.ALAW,
    "g711a": AudioEncoding.ALAW,
    "pcm_alaw": AudioEncoding.ALAW,
    "pcm16be": AudioEncoding.PCM16_BE,  # ours (RTP L16); no Go name
}
_GO_ZERO_FORMAT = {"Encoding": "", "SampleRate": 0, "Channels": 0}


def _encode_format(value: AudioFormat | None) -> dict[str, Any]:
    """Go ``format.AudioFormat`` has no JSON tags: its field names are the keys."""
    if value is None:
        return dict(_GO_ZERO_FORMAT)
    return {
        "Encoding": str(value.encoding),
        "SampleRate": value.sample_rate,
        "Channels": value.channels,
    }


def _decode_format(raw: Any, name: str) -> AudioFormat | None:
    """Go's keys (or the lower-case ones older versions of this library wrote); the zero
    format reads as None (not set). A format this library cannot play raises."""
    if not isinstance(raw, dict):
        raise ValueError(f"{name}: expected a JSON object, got {type(raw).__name__}")
    keys = ("Encoding", "SampleRate", "Channels")
    if not any(k in raw for k in keys):
        keys = ("encoding", "sample_rate", "channels")
    encoding = expect_type(raw, keys[0], str, owner=name) if keys[0] in raw else ""
    rate = expect_type(raw, keys[1], int, owner=name) if keys[1] in raw else 0
    channels = expect_type(raw, keys[2], int, owner=name) if keys[2] in raw else 0
    if not encoding and not rate and not channels:
        return None
    known = _ENCODING_ALIASES.get(encoding.strip().lower())
    if known is None:
        raise ValueError(f"{name}: AudioFormat.encoding: unsupported encoding {encoding!r}")
    try:
        return AudioFormat(known, rate, channels or 1)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


@dataclass(slots=True)
class BridgeConfig(GoStruct):
    """Configures a RealtimeBridge (Go ``BridgeConfig``).

    ``provider`` is a livekit-agents ``llm.RealtimeModel`` (written as ``null``, never
    read). ``buffer_size`` is the capacity, in frames, of the audio queues (default
    100; 0 in JSON is Go's "default"). ``from_format``/``to_format`` are ``None`` only
    when read from JSON that left them unset (Go's zero ``AudioFormat``).
    """

    __go_name__ = "BridgeConfig"

    provider: Any = go_field(
        "Provider", encode=_null, decode=_never_read, default=None, compare=False
    )
    process_config: ProcessConfig = go_field(
        "ProcessConfig",
        encode=lambda pc: pc.to_dict(),
        decode=lambda raw, _n: ProcessConfig.from_dict(raw),
        default_factory=ProcessConfig,
    )
    from_format: AudioFormat | None = go_field(
        "FromFormat", encode=_encode_format, decode=_decode_format, encode_none=True, default=TWILIO
    )
    to_format: AudioFormat | None = go_field(
        "ToFormat", encode=_encode_format, decode=_decode_format, encode_none=True, default=OPENAI
    )
    buffer_size: int = go_field("BufferSize", kind=int, default=100, go_default=100)

    def __post_init__(self) -> None:
        if parsing():
            return
        if self.buffer_size <= 0:
            raise ValueError(f"BridgeConfig.buffer_size: must be > 0, got {self.buffer_size}")
        if self.from_format is None or self.to_format is None:
            raise ValueError("BridgeConfig: from_format and to_format are required")
