"""PlaybackMarks: a marker every interval of audio, echoes counted, unanswered ones bounded."""

from __future__ import annotations

import pytest

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.shim.playback_marks import PlaybackMarks
from omnivoice_rtc.shim.policy import CallCounters

pytestmark = pytest.mark.unit


def test_a_marker_after_every_interval_of_audio() -> None:
    counters = CallCounters()
    marks = PlaybackMarks(every_ms=100, counters=counters, clock=VirtualClock())
    names = [marks.on_audio_sent(20) for _ in range(11)]
    assert names == [None] * 4 + ["ov-1"] + [None] * 4 + ["ov-2", None]
    assert counters.marks_sent == 2
    assert marks.outstanding == ("ov-1", "ov-2")


def test_an_echo_is_acknowledged_once_with_its_playback_delay() -> None:
    counters = CallCounters()
    clock = VirtualClock()
    marks = PlaybackMarks(every_ms=20, counters=counters, clock=clock)
    name = marks.on_audio_sent(20)
    assert name == "ov-1"
    clock.advance(0.25)
    assert marks.on_echo(name) == pytest.approx(0.25)
    assert marks.on_echo(name) is None  # echoed twice: counted once
    assert marks.on_echo("someone-else") is None
    assert counters.marks_acked == 1
    assert marks.outstanding == ()


def test_reset_after_a_flush_starts_the_interval_again() -> None:
    marks = PlaybackMarks(every_ms=100, counters=CallCounters(), clock=VirtualClock())
    for _ in range(4):
        marks.on_audio_sent(20)
    marks.reset()
    assert [marks.on_audio_sent(20) for _ in range(5)] == [None] * 4 + ["ov-1"]


def test_a_carrier_that_never_echoes_cannot_grow_the_map() -> None:
    counters = CallCounters()
    marks = PlaybackMarks(every_ms=20, counters=counters, clock=VirtualClock(), max_outstanding=3)
    for _ in range(5):
        marks.on_audio_sent(20)
    assert marks.outstanding == ("ov-3", "ov-4", "ov-5")
    assert marks.on_echo("ov-1") is None  # forgotten
    assert counters.marks_sent == 5


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^PlaybackMarks.every_ms: must be > 0 ms, got 0$"):
        PlaybackMarks(every_ms=0, counters=CallCounters())
    with pytest.raises(ValueError, match=r"^PlaybackMarks.max_outstanding: must be >= 1, got 0$"):
        PlaybackMarks(every_ms=20, counters=CallCounters(), max_outstanding=0)
