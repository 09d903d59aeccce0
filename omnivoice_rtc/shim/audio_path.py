"""Carrier wire audio <-> room PCM16, one converter per direction, constant 20 ms frames."""

from __future__ import annotations

from typing import Final

from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat

__all__ = ["FRAME_MS", "InboundAudio", "OutboundAudio", "room_rate_for"]

FRAME_MS: Final = 20
"""Frame duration on both sides of the shim (ms)."""


def room_rate_for(carrier_format: AudioFormat) -> int:
    """Rate (Hz) at which we publish/subscribe for a carrier format: the carrier's own rate.

    Measured in bench/shim.py (docs/benchmarks.md "Shim"): livekit rtc's internal
    conversion to/from 48 kHz adds no measurable latency over doing it ourselves, and
    skipping our resampler saves CPU per frame.
    """
    return carrier_format.sample_rate


class InboundAudio:
    """Carrier payloads -> PCM16 at ``room_rate_hz``. ``ms_of(payload)`` gives duration (ms)."""

    __slots__ = ("_bytes_per_ms", "_conv", "carrier_format", "room_rate_hz")

    def __init__(self, *, carrier_format: AudioFormat, room_rate_hz: int) -> None:
        self.carrier_format = carrier_format
        self.room_rate_hz = room_rate_hz
        self._conv = StreamConverter(
            from_format=carrier_format,
            to_format=AudioFormat(AudioEncoding.PCM16, room_rate_hz),
        )
        self._bytes_per_ms = carrier_format.sample_rate * carrier_format.bytes_per_sample / 1000

    def ms_of(self, payload: bytes) -> float:
        """Duration of a carrier payload (ms)."""
        return len(payload) / self._bytes_per_ms

    def is_whole_samples(self, payload: bytes) -> bool:
        return len(payload) % self.carrier_format.bytes_per_sample == 0

    def convert(self, payload: bytes) -> bytes:
        return self._conv.process(payload)


class OutboundAudio:
    """PCM16 at ``room_rate_hz`` -> carrier payloads of exactly ``frame_ms`` each.

    Input of any length is converted and re-cut into whole carrier frames of ``frame_ms``
    (default ``FRAME_MS``, 20 ms; a carrier profile may ask for more, e.g. Exotel 100 ms);
    a remainder waits for the next call (at most one frame, so no added latency for
    20 ms input and 20 ms frames).
    """

    __slots__ = ("_buf", "_conv", "carrier_format", "frame_bytes", "frame_ms", "room_rate_hz")

    def __init__(
        self, *, carrier_format: AudioFormat, room_rate_hz: int, frame_ms: int = FRAME_MS
    ) -> None:
        if frame_ms <= 0:
            raise ValueError(f"OutboundAudio.frame_ms: must be > 0 ms, got {frame_ms}")
        self.carrier_format = carrier_format
        self.room_rate_hz = room_rate_hz
        self._conv = StreamConverter(
            from_format=AudioFormat(AudioEncoding.PCM16, room_rate_hz),
            to_format=carrier_format,
        )
        self.frame_ms = frame_ms
        """Duration of each carrier frame (ms)."""
        self.frame_bytes = carrier_format.frame_bytes(frame_ms)
        self._buf = bytearray()

    def convert(self, pcm: bytes) -> list[bytes]:
        """Convert agent PCM16 and return the complete carrier frames it finishes."""
        self._buf += self._conv.process(pcm)
        n = len(self._buf) // self.frame_bytes
        if n == 0:
            return []
        size = self.frame_bytes
        frames = [bytes(self._buf[i * size : (i + 1) * size]) for i in range(n)]
        del self._buf[: n * size]
        return frames

    def reset(self) -> None:
        """Drop a partial frame (after a flush)."""
        self._buf.clear()
