"""A session's audio I/O: wrappers that count the PCM16 bytes it receives and sends, the
task that reports the counts as ``audio_received`` / ``audio_sent`` events, and the
framing of PCM16 a caller asks the session to play (``send_audio``).

The wrappers sit in livekit-agents' audio chains (``session.input.audio`` /
``session.output.audio``) like its own wrappers do, and feed
:class:`~omnivoice_rtc.conversation.ConversationStats` (``audio_bytes_received`` /
``audio_bytes_sent``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np
from livekit import rtc
from livekit.agents.voice import io as lk_io

from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.types import AudioBytes, Event, EventType

__all__ = [
    "REPORT_INTERVAL_S",
    "CountingAudioInput",
    "CountingAudioOutput",
    "pcm16_frames",
    "report_audio",
]

REPORT_INTERVAL_S = 1.0
"""At most one audio_received and one audio_sent event per this many seconds."""


def pcm16_frames(samples: Sequence[int] | bytes, *, sample_rate_hz: int) -> list[rtc.AudioFrame]:
    """20 ms mono frames at ``sample_rate_hz`` Hz from PCM16 (``bytes`` little-endian,
    or int samples); ValueError for an odd byte count or a sample outside int16."""
    if isinstance(samples, bytes | bytearray):
        if len(samples) % 2:
            raise ValueError("send_audio: PCM16 bytes must have an even length")
        pcm = np.frombuffer(samples, dtype="<i2")
    else:
        pcm = np.asarray(samples, dtype=np.int64)
        if pcm.size and (pcm.min() < -32768 or pcm.max() > 32767):
            raise ValueError("send_audio: samples must be within -32768..32767")
        pcm = pcm.astype("<i2")
    frame_len = sample_rate_hz // 50  # 20 ms
    return [
        rtc.AudioFrame(chunk.tobytes(), sample_rate_hz, 1, chunk.size)
        for chunk in (pcm[i : i + frame_len] for i in range(0, pcm.size, frame_len))
    ]


async def report_audio(
    stats: ConversationStats,
    emit: Callable[[Event], None],
    *,
    interval_s: float = REPORT_INTERVAL_S,
) -> None:
    """Emit ``AudioBytes`` events while audio flows, every ``interval_s`` s; runs until
    cancelled (the session owns the task)."""
    last_in = last_out = 0
    while True:
        await asyncio.sleep(interval_s)
        received, sent = stats.audio_bytes_received, stats.audio_bytes_sent
        if received > last_in:
            data = AudioBytes(bytes_since_last=received - last_in, total_bytes=received)
            emit(Event(type=EventType.AUDIO_RECEIVED, data=data))
        if sent > last_out:
            data = AudioBytes(bytes_since_last=sent - last_out, total_bytes=sent)
            emit(Event(type=EventType.AUDIO_SENT, data=data))
        last_in, last_out = received, sent


class CountingAudioInput(lk_io.AudioInput):
    """Passes frames through from ``source``; adds their PCM16 bytes to ``stats``."""

    def __init__(self, source: lk_io.AudioInput, stats: ConversationStats) -> None:
        super().__init__(label="omnivoice.count_in", source=source)
        self._stats = stats

    async def __anext__(self) -> rtc.AudioFrame:
        frame = await super().__anext__()
        self._stats.audio_bytes_received += len(frame.data) * 2  # int16 samples
        return frame


class CountingAudioOutput(lk_io.AudioOutput):
    """Passes frames on to ``next_in_chain``; adds their PCM16 bytes to ``stats``."""

    def __init__(self, next_in_chain: lk_io.AudioOutput, stats: ConversationStats) -> None:
        super().__init__(
            label="omnivoice.count_out",
            capabilities=lk_io.AudioOutputCapabilities(pause=True),
            next_in_chain=next_in_chain,
            sample_rate=next_in_chain.sample_rate,
        )
        self._stats = stats

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        assert self.next_in_chain is not None
        # hand the frame on first and count the segment only once the chain took it:
        # livekit's TranscriptSynchronizer awaits a segment rotation before counting, and
        # a speech cancelled there (barge-in, close) must not leave a segment counted
        # here that nothing downstream will ever finish -- wait_for_playout() would
        # hang, and with it the speech task, AgentSession drain/close and the job
        await self.next_in_chain.capture_frame(frame)
        await super().capture_frame(frame)
        self._stats.audio_bytes_sent += len(frame.data) * 2

    def on_playback_finished(
        self,
        *,
        playback_position: float,
        interrupted: bool,
        synchronized_transcript: str | None = None,
    ) -> None:
        if not self._pending_playback_count:
            return  # a segment the chain counted but whose capture was cancelled before ours
        super().on_playback_finished(
            playback_position=playback_position,
            interrupted=interrupted,
            synchronized_transcript=synchronized_transcript,
        )

    def flush(self) -> None:
        super().flush()
        assert self.next_in_chain is not None
        self.next_in_chain.flush()

    def clear_buffer(self) -> None:
        assert self.next_in_chain is not None
        self.next_in_chain.clear_buffer()
