"""AudioFormat: encoding, sample rate (Hz) and channel count, plus carrier/model presets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "GEMINI_INPUT",
    "GEMINI_OUTPUT",
    "LIVEKIT",
    "OPENAI",
    "PLIVO",
    "PLIVO_L16_8K",
    "PLIVO_L16_16K",
    "TELNYX",
    "TWILIO",
    "VONAGE",
    "VONAGE_8K",
    "AudioEncoding",
    "AudioFormat",
]


class AudioEncoding(StrEnum):
    """Sample encodings on the wire."""

    MULAW = "mulaw"
    """G.711 μ-law, 1 byte per sample."""
    ALAW = "alaw"
    """G.711 A-law, 1 byte per sample."""
    PCM16 = "pcm16"
    """Linear 16-bit signed little-endian (L16 as Vonage and LiveKit use it)."""
    PCM16_BE = "pcm16be"
    """Linear 16-bit signed big-endian (RTP L16, RFC 3551)."""

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self in (AudioEncoding.MULAW, AudioEncoding.ALAW) else 2


SUPPORTED_RATES = (8000, 16000, 24000, 48000)


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """An audio format. ``sample_rate`` in Hz; ``channels`` is 1 (mono) on every path we support."""

    encoding: AudioEncoding
    sample_rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.encoding, AudioEncoding):
            try:
                object.__setattr__(self, "encoding", AudioEncoding(self.encoding))
            except ValueError:
                raise ValueError(
                    f"AudioFormat.encoding: unsupported encoding {self.encoding!r}"
                ) from None
        if (
            isinstance(self.sample_rate, bool)
            or not isinstance(self.sample_rate, int)
            or self.sample_rate <= 0
        ):
            raise ValueError(
                f"AudioFormat.sample_rate: must be a positive int (Hz), got {self.sample_rate!r}"
            )
        if self.channels != 1:
            raise ValueError(
                f"AudioFormat.channels: only mono (1) is supported, got {self.channels!r}"
            )

    @property
    def bytes_per_sample(self) -> int:
        return self.encoding.bytes_per_sample * self.channels

    def frame_bytes(self, duration_ms: int = 20) -> int:
        """Bytes in one frame of ``duration_ms`` milliseconds."""
        return self.sample_rate * duration_ms // 1000 * self.bytes_per_sample

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": str(self.encoding),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }

    @classmethod
    def from_dict(cls, data: Any) -> AudioFormat:
        if not isinstance(data, dict):
            raise ValueError(f"AudioFormat: expected a JSON object, got {type(data).__name__}")
        for key in ("encoding", "sample_rate"):
            if key not in data:
                raise ValueError(f"AudioFormat.{key}: missing")
        return cls(
            encoding=data["encoding"],
            sample_rate=data["sample_rate"],
            channels=data.get("channels", 1),
        )


TWILIO = AudioFormat(AudioEncoding.MULAW, 8000)
"""Twilio Media Streams: μ-law 8 kHz mono."""
TELNYX = AudioFormat(AudioEncoding.MULAW, 8000)
"""Telnyx media streaming (PCMU): μ-law 8 kHz mono."""
VONAGE = AudioFormat(AudioEncoding.PCM16, 16000)
"""Vonage Voice WebSocket: L16 16 kHz little-endian."""
VONAGE_8K = AudioFormat(AudioEncoding.PCM16, 8000)
"""Vonage Voice WebSocket: L16 8 kHz little-endian."""
PLIVO = AudioFormat(AudioEncoding.MULAW, 8000)
"""Plivo audio streaming: μ-law 8 kHz."""
PLIVO_L16_8K = AudioFormat(AudioEncoding.PCM16, 8000)
"""Plivo audio streaming: L16 8 kHz."""
PLIVO_L16_16K = AudioFormat(AudioEncoding.PCM16, 16000)
"""Plivo audio streaming: L16 16 kHz."""
OPENAI = AudioFormat(AudioEncoding.PCM16, 24000)
"""OpenAI Realtime: PCM16 24 kHz mono."""
GEMINI_INPUT = AudioFormat(AudioEncoding.PCM16, 16000)
"""Gemini Live input: PCM16 16 kHz mono."""
GEMINI_OUTPUT = AudioFormat(AudioEncoding.PCM16, 24000)
"""Gemini Live output: PCM16 24 kHz mono."""
LIVEKIT = AudioFormat(AudioEncoding.PCM16, 48000)
"""LiveKit rooms (Opus decoded): PCM16 48 kHz mono."""
