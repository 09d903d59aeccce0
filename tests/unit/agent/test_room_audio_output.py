"""RoomAudioOutput: the agent's room output with a short native queue and a pause that
silences the caller at once (no timing is asserted: the bench measures)."""

from __future__ import annotations

import numpy as np
import pytest
from livekit import rtc

from omnivoice_rtc.agent.room_audio_output import OUTPUT_QUEUE_MS, RoomAudioOutput

pytestmark = pytest.mark.unit

RATE_HZ = 24000


def _speech(ms: int) -> rtc.AudioFrame:
    samples = (8000 * np.sin(np.arange(RATE_HZ * ms // 1000) / 5)).astype(np.int16)
    return rtc.AudioFrame(samples.tobytes(), RATE_HZ, 1, samples.size)


async def test_the_track_plays_our_source_with_our_queue() -> None:
    output = RoomAudioOutput(rtc.Room(), sample_rate_hz=RATE_HZ, track_name="agent", queue_ms=100)
    try:
        assert output.queue_ms == 100
        assert OUTPUT_QUEUE_MS % 10 == 0
        assert output.source is not output._stock_source  # the track plays ours
        assert output.source.sample_rate == RATE_HZ
        assert output.can_pause
    finally:
        await output.aclose()


@pytest.mark.parametrize("queue_ms", [0, 40, 55])
def test_a_queue_that_cannot_take_livekits_frames_is_refused(queue_ms: int) -> None:
    with pytest.raises(ValueError, match="queue_ms"):
        RoomAudioOutput(rtc.Room(), sample_rate_hz=RATE_HZ, track_name="a", queue_ms=queue_ms)


async def test_pause_drops_the_queued_audio_and_accounts_it_as_discarded() -> None:
    output = RoomAudioOutput(rtc.Room(), sample_rate_hz=RATE_HZ, track_name="agent")
    progressed: list[tuple[float, float]] = []
    output.on_playback_progressed = (  # type: ignore[method-assign]  # reason: observe the report
        lambda *, started_at, offset, duration: progressed.append((offset, duration))
    )
    try:
        frame = _speech(50)
        output._source_pushed_duration += frame.duration  # as livekit's forwarder does
        await output.source.capture_frame(frame)
        assert output.source.queued_duration > 0
        output.pause()
        assert output.source.queued_duration == 0  # nothing more plays at the caller
        assert output._source_discarded_duration > 0
        # the run so far is reported and a resumed run starts past the dropped audio
        assert output._run_offset == pytest.approx(frame.duration)
        assert all(offset == 0 for offset, _ in progressed)
        output.resume()
        assert output._playback_enabled.is_set()
    finally:
        await output.aclose()


async def test_pause_with_nothing_queued_only_pauses() -> None:
    output = RoomAudioOutput(rtc.Room(), sample_rate_hz=RATE_HZ, track_name="agent")
    try:
        output.pause()
        assert not output._playback_enabled.is_set()
        assert output._source_discarded_duration == 0
    finally:
        await output.aclose()
