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


# --------------------------------------------------------------------------- mouth-to-ear


def _tone(ms: int, amplitude: int = 8000) -> bytes:
    import numpy as np

    t = np.arange(8 * ms) / 8000
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()


SILENCE_20MS = bytes(320)


def test_a_reply_after_the_caller_spoke_gets_one_marker_and_its_echo_a_latency() -> None:
    from omnivoice_rtc.shim.playback_marks import M2E_MARK_PREFIX, MouthToEar

    clock = VirtualClock()
    m2e = MouthToEar(frame_ms=20.0, clock=clock)
    m2e.on_caller_audio(_tone(20))  # the caller's last voiced frame
    m2e.on_caller_audio(SILENCE_20MS)
    clock.advance(0.5)
    m2e.on_agent_audio(SILENCE_20MS)
    assert m2e.mark_after_frame() is None  # silence is no reply
    m2e.on_agent_audio(_tone(20))  # the reply's first voiced frame
    name = m2e.mark_after_frame()
    assert name is not None
    assert name.startswith(M2E_MARK_PREFIX)
    m2e.on_agent_audio(_tone(20))  # the same reply goes on: no second marker
    assert m2e.mark_after_frame() is None
    clock.advance(0.2)  # the carrier plays the frame, then echoes
    assert m2e.on_echo("ov-3") is None  # a playback mark, not ours
    # 0.5 + 0.2 s since the caller's voice, minus the one 20 ms frame the echo waited for
    assert m2e.on_echo(name) == 680
    assert m2e.on_echo(name) is None  # once


def test_no_marker_when_the_caller_did_not_speak_since_the_last_reply() -> None:
    from omnivoice_rtc.shim.playback_marks import MouthToEar

    clock = VirtualClock()
    m2e = MouthToEar(frame_ms=20.0, clock=clock)
    m2e.on_agent_audio(_tone(20))  # the greeting: nobody spoke before it
    assert m2e.mark_after_frame() is None
    m2e.on_caller_audio(_tone(20))
    clock.advance(1.0)
    m2e.on_agent_audio(_tone(20))
    assert m2e.mark_after_frame() is not None
    clock.advance(1.0)
    m2e.on_agent_audio(_tone(20))  # a second reply with no caller speech between
    assert m2e.mark_after_frame() is None


def test_a_flush_forgets_the_pending_and_outstanding_markers() -> None:
    from omnivoice_rtc.shim.playback_marks import MouthToEar

    clock = VirtualClock()
    m2e = MouthToEar(frame_ms=20.0, clock=clock)
    m2e.on_caller_audio(_tone(20))
    clock.advance(1.0)
    m2e.on_agent_audio(_tone(20))
    name = m2e.mark_after_frame()
    assert name is not None
    m2e.cancel()
    assert m2e.on_echo(name) is None  # the echo of a cleared marker measures nothing
