"""The RealtimeBridge's reply path: model audio -> telephony frames in a bounded queue.

Frames are 20 ms of the telephony format; the queue holds at most ``capacity`` frames and
drops the oldest when its reader falls behind (late audio is worse than lost audio on a
call). :meth:`ReplyAudio.close` ends :meth:`ReplyAudio.frames`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from omnivoice_rtc.audio.converter import StreamConverter
from omnivoice_rtc.audio.format import AudioEncoding, AudioFormat

__all__ = ["ReplyAudio", "put_drop_oldest"]

logger = logging.getLogger(__name__)

FRAME_MS: Final = 20
_END: Final = object()


def put_drop_oldest(queue: asyncio.Queue[Any], item: Any) -> bool:
    """Put without blocking; when full, drop the oldest item first. True if one was dropped."""
    dropped = False
    while True:
        try:
            queue.put_nowait(item)
            return dropped
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
                dropped = True


class ReplyAudio:
    """Converts reply audio (PCM16 at any rate) to ``telephony`` frames of 20 ms and queues
    them (``capacity`` frames). ``bytes_sent`` counts what was queued (bytes)."""

    def __init__(self, *, telephony: AudioFormat, capacity: int) -> None:
        self._format = telephony
        self._frame_bytes = telephony.frame_bytes(FRAME_MS)
        self._queue: asyncio.Queue[bytes | object] = asyncio.Queue(capacity)
        self._converters: dict[int, StreamConverter] = {}
        self._converter: StreamConverter | None = None
        self._rate = 0
        self._pending = bytearray()
        self.bytes_sent = 0
        self.frames_dropped = 0

    def begin(self) -> None:
        """A new reply starts: forget any partial frame of the previous one."""
        self._converter = None
        self._rate = 0
        self._pending.clear()

    def push(self, pcm: bytes | memoryview, sample_rate_hz: int) -> None:
        """Convert one model frame (PCM16 mono at ``sample_rate_hz``) and queue whole frames."""
        if self._converter is None or sample_rate_hz != self._rate:
            self._rate = sample_rate_hz
            self._converter = self._converter_for(sample_rate_hz)
            self._converter.reset()
        self._pending += self._converter.process(pcm)
        self._queue_frames(final=False)

    def finish(self) -> None:
        """The reply ended: flush the converter and queue the last (short) frame."""
        if self._converter is not None:
            self._pending += self._converter.flush()
            self._queue_frames(final=True)
        self._converter = None

    def clear(self) -> bool:
        """Drop every queued frame (barge-in); True if there were any."""
        had = False
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return had
            if item is _END:  # keep the end marker
                self._queue.put_nowait(item)
                return had
            had = True

    @property
    def capacity(self) -> int:
        """How many frames the queue holds before dropping the oldest."""
        return self._queue.maxsize

    def empty(self) -> bool:
        return self._queue.empty()

    def close(self) -> None:
        """End :meth:`frames` after what is queued."""
        put_drop_oldest(self._queue, _END)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            assert isinstance(item, bytes)  # reason: only bytes and _END are queued
            yield item

    def _queue_frames(self, *, final: bool) -> None:
        size, pending = self._frame_bytes, self._pending
        while len(pending) >= size or (final and pending):
            chunk = bytes(pending[:size])
            del pending[:size]
            self.bytes_sent += len(chunk)
            if put_drop_oldest(self._queue, chunk):
                self.frames_dropped += 1
                if self.frames_dropped in (1, 100, 1000):
                    logger.warning(
                        "audio_out reader is behind; dropped oldest frames",
                        extra={"dropped": self.frames_dropped},
                    )

    def _converter_for(self, rate: int) -> StreamConverter:
        conv = self._converters.get(rate)
        if conv is None:
            conv = StreamConverter(
                from_format=AudioFormat(AudioEncoding.PCM16, rate), to_format=self._format
            )
            self._converters[rate] = conv
        return conv
