"""A session's audio I/O helpers: PCM16 framing for send_audio and the audio reports."""

from __future__ import annotations

import asyncio

import pytest

from omnivoice_rtc.agent.io_counters import pcm16_frames, report_audio
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.types import AudioBytes, Event, EventType

pytestmark = pytest.mark.unit


def test_pcm16_is_cut_into_20_ms_frames() -> None:
    frames = pcm16_frames(b"\x01\x00" * 1000, sample_rate_hz=24000)  # 1000 samples
    assert [f.samples_per_channel for f in frames] == [480, 480, 40]
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(24000, 1)}
    assert bytes(frames[0].data.cast("B"))[:2] == b"\x01\x00"
    ints = pcm16_frames([0, -32768, 32767], sample_rate_hz=16000)
    assert list(ints[0].data) == [0, -32768, 32767]
    assert pcm16_frames(b"", sample_rate_hz=16000) == []


@pytest.mark.parametrize(
    ("samples", "message"),
    [(b"\x00", "even length"), ([40000], "within -32768..32767")],
)
def test_bad_pcm_is_refused(samples: bytes | list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pcm16_frames(samples, sample_rate_hz=16000)


async def test_reports_carry_the_bytes_since_the_last_report_and_the_total() -> None:
    stats = ConversationStats()
    events: list[Event] = []
    got = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        got.set()

    stats.audio_bytes_received = 960
    task = asyncio.create_task(report_audio(stats, emit, interval_s=0))
    try:
        await asyncio.wait_for(got.wait(), 5)
        got.clear()
        stats.audio_bytes_received += 320
        stats.audio_bytes_sent += 640
        while len(events) < 3:
            await asyncio.wait_for(got.wait(), 5)
            got.clear()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(e.type, e.data) for e in events] == [
        (EventType.AUDIO_RECEIVED, AudioBytes(bytes_since_last=960, total_bytes=960)),
        (EventType.AUDIO_RECEIVED, AudioBytes(bytes_since_last=320, total_bytes=1280)),
        (EventType.AUDIO_SENT, AudioBytes(bytes_since_last=640, total_bytes=640)),
    ]
