"""A bounded queue of audio frames that drops the oldest frame when full (no I/O).

Both directions of a call use one: caller audio waiting for the room publisher, agent
audio waiting for the carrier socket. A consumer that falls behind loses the oldest audio
instead of adding delay that never drains (docs/shim.md, "Audio in" / "Audio out").
"""

from __future__ import annotations

from collections import deque

__all__ = ["FrameQueue"]


class FrameQueue:
    """First in, first out, at most ``max_frames`` frames; :meth:`push` drops the oldest."""

    __slots__ = ("_frames",)

    def __init__(self, *, max_frames: int) -> None:
        if max_frames < 1:
            raise ValueError(f"FrameQueue.max_frames: must be >= 1, got {max_frames!r}")
        self._frames: deque[bytes] = deque(maxlen=max_frames)

    @property
    def max_frames(self) -> int:
        """Capacity (frames)."""
        return self._frames.maxlen or 0

    def push(self, frame: bytes) -> bool:
        """Append ``frame``; False when the queue was full and its oldest frame was dropped."""
        full = len(self._frames) == self._frames.maxlen
        self._frames.append(frame)
        return not full

    def pop(self) -> bytes | None:
        """The oldest frame, or None when empty."""
        return self._frames.popleft() if self._frames else None

    def clear(self) -> int:
        """Drop every frame; returns how many were dropped."""
        count = len(self._frames)
        self._frames.clear()
        return count

    def __len__(self) -> int:
        return len(self._frames)

    def __bool__(self) -> bool:
        return bool(self._frames)
