"""The bridge's reply path: 20 ms telephony frames, drop-oldest, clear, end."""

from __future__ import annotations

import pytest

from omnivoice_rtc.audio.format import TWILIO
from omnivoice_rtc.realtime_bridge.reply_audio import ReplyAudio

pytestmark = pytest.mark.unit

_PCM_24K_30MS = b"\x00\x10" * 720  # 30 ms of PCM16 at 24 kHz


async def _drain(reply: ReplyAudio) -> list[bytes]:
    reply.close()
    return [frame async for frame in reply.frames()]


async def test_frames_are_20_ms_and_the_tail_is_flushed_at_the_end() -> None:
    reply = ReplyAudio(telephony=TWILIO, capacity=100)
    reply.begin()
    reply.push(_PCM_24K_30MS, 24000)
    reply.push(_PCM_24K_30MS, 24000)
    reply.finish()
    frames = await _drain(reply)
    assert len(frames) >= 3  # 60 ms of reply
    assert all(len(f) == 160 for f in frames[:-1])  # 20 ms of mu-law at 8 kHz
    assert 0 < len(frames[-1]) <= 160
    assert reply.bytes_sent == sum(len(f) for f in frames)


async def test_a_slow_reader_loses_the_oldest_frames() -> None:
    reply = ReplyAudio(telephony=TWILIO, capacity=2)
    reply.begin()
    for _ in range(4):
        reply.push(_PCM_24K_30MS, 24000)
    assert reply.frames_dropped > 0
    assert reply.capacity == 2
    assert len(await _drain(reply)) == 1  # closing a full queue makes room for the end


async def test_clear_drops_queued_audio_but_keeps_the_end() -> None:
    reply = ReplyAudio(telephony=TWILIO, capacity=10)
    reply.begin()
    reply.push(_PCM_24K_30MS, 24000)
    assert reply.clear() is True
    assert reply.clear() is False
    reply.close()
    assert reply.clear() is False  # the end marker stays
    assert [f async for f in reply.frames()] == []
