"""Cut outbound audio into carrier-sized frames (pure, no I/O).

Vonage accepts only messages of exactly one 20 ms frame (320 or 640 bytes); the others
take any size but play smoothest with whole 20 ms frames. :class:`Framer` buffers the
remainder between pushes; :meth:`Framer.clear` drops it on barge-in.
"""

from __future__ import annotations

__all__ = ["Framer"]


class Framer:
    """Accumulates bytes and yields whole frames of ``frame_bytes`` bytes."""

    __slots__ = ("_buffer", "_frame_bytes")

    def __init__(self, *, frame_bytes: int) -> None:
        if frame_bytes <= 0:
            raise ValueError(f"Framer.frame_bytes: must be > 0, got {frame_bytes}")
        self._frame_bytes = frame_bytes
        self._buffer = bytearray()

    @property
    def frame_bytes(self) -> int:
        return self._frame_bytes

    @property
    def pending(self) -> int:
        """Bytes held back until the next push completes a frame."""
        return len(self._buffer)

    def push(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every complete frame, oldest first."""
        self._buffer += data
        size = self._frame_bytes
        whole = len(self._buffer) - len(self._buffer) % size
        frames = [bytes(self._buffer[i : i + size]) for i in range(0, whole, size)]
        del self._buffer[:whole]
        return frames

    def flush(self, *, silence: bytes = b"\x00") -> bytes | None:
        """The held-back remainder padded to one frame with ``silence`` (a 1- or 2-byte
        sample: ``b"\\x00"`` for L16, ``b"\\xff"`` for μ-law), or None if nothing is held."""
        if not self._buffer:
            return None
        missing = self._frame_bytes - len(self._buffer)
        reps = -(-missing // len(silence))
        frame = bytes(self._buffer) + (silence * reps)[:missing]
        self._buffer.clear()
        return frame

    def clear(self) -> None:
        """Drop the remainder (barge-in: audio not yet sent must not play)."""
        self._buffer.clear()
