"""AgentPlayout: agent audio -> carrier frames, barge-in flushes, the stale window, tones."""

from __future__ import annotations

import numpy as np
import pytest

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.audio.dtmf import detect_dtmf
from omnivoice_rtc.audio.format import TWILIO, VONAGE, AudioFormat
from omnivoice_rtc.audio.g711 import ulaw_decode
from omnivoice_rtc.shim.agent_playout import STALE_AFTER_FLUSH_S, AgentPlayout, Flush
from omnivoice_rtc.shim.audio_path import OutboundAudio
from omnivoice_rtc.shim.policy import CallCounters, MediaPolicy
from omnivoice_rtc.types import EventType

pytestmark = pytest.mark.unit

PCM_20MS = np.zeros(160, dtype=np.int16).tobytes()
"""20 ms of agent silence at 8 kHz (PCM16)."""
VOICE_20MS = (np.sin(np.arange(160) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16).tobytes()
"""20 ms of a 440 Hz tone at 8 kHz (PCM16): agent speech."""


class _Playout:
    def __init__(self, *, policy: MediaPolicy | None = None, fmt: AudioFormat = TWILIO) -> None:
        self.clock = VirtualClock()
        self.counters = CallCounters()
        self.machine = AgentPlayout(
            outbound=OutboundAudio(carrier_format=fmt, room_rate_hz=fmt.sample_rate),
            policy=policy or MediaPolicy(),
            counters=self.counters,
            clock=self.clock,
        )

    def drain(self) -> list[bytes]:
        """What the pump would send now (each frame counted as sent)."""
        frames = []
        while (frame := self.machine.pop_frame()) is not None:
            self.machine.frame_sent(frame)
            frames.append(frame)
        return frames

    def speak(self, frames: int = 1) -> bool:
        waiting = False
        for _ in range(frames):
            waiting = self.machine.on_agent_audio(VOICE_20MS)  # speech: never shed
        return waiting


def test_agent_audio_becomes_whole_carrier_frames() -> None:
    p = _Playout()
    assert p.machine.frame_ms == 20.0
    assert not p.machine.on_agent_audio(PCM_20MS[:200])  # 12.5 ms: no whole frame yet
    assert p.machine.on_agent_audio(PCM_20MS[:200])  # 25 ms in all: one frame
    assert [len(f) for f in p.drain()] == [160]
    assert (p.counters.frames_out, p.counters.bytes_out) == (1, 160)
    assert p.machine.pop_frame() is None


def test_frame_duration_follows_the_carrier_format() -> None:
    p = _Playout(fmt=VONAGE)
    assert p.machine.frame_ms == 20.0
    assert p.machine.on_agent_audio(np.zeros(320, dtype=np.int16).tobytes())
    assert [len(f) for f in p.drain()] == [640]


def test_a_slow_socket_loses_the_oldest_agent_audio() -> None:
    p = _Playout(policy=MediaPolicy(outbound_queue_ms=100))  # five frames
    p.speak(8)
    assert p.counters.dropped_outbound == 3
    assert len(p.drain()) == 5


def test_barge_in_flushes_once_per_burst_of_audio() -> None:
    p = _Playout()
    assert p.machine.on_agent_state("listening", "speaking") is None
    p.speak(3)
    p.drain()
    assert p.machine.on_agent_event(EventType.USER_SPEECH_START, agent_state="speaking") is None
    assert p.machine.on_agent_state("speaking", "listening") == Flush("agent_interrupted")
    assert p.machine.on_agent_event(EventType.INTERRUPTION, agent_state="listening") is None
    p.machine.on_agent_state("listening", "speaking")
    p.speak(1)
    p.drain()
    assert p.machine.on_agent_event(EventType.INTERRUPTION, agent_state="speaking") == Flush(
        "interruption"
    )


def test_the_agent_stopping_on_its_own_is_no_barge_in() -> None:
    p = _Playout()
    p.machine.on_agent_state("listening", "speaking")
    p.speak(3)
    p.drain()
    # the caller started talking before the agent spoke: not over it
    p.machine.on_agent_event(EventType.USER_SPEECH_START, agent_state="listening")
    assert p.machine.on_agent_state("speaking", "listening") is None
    # the agent spoke again after a user_speech_start over it: that barge-in is over
    p.machine.on_agent_state("listening", "speaking")
    p.machine.on_agent_event(EventType.USER_SPEECH_START, agent_state="speaking")
    assert p.machine.on_agent_state("speaking", "thinking") == Flush("agent_interrupted")
    p.machine.on_agent_state("thinking", "speaking")
    assert p.machine.on_agent_state("speaking", "listening") is None


def test_nothing_sent_means_nothing_to_flush() -> None:
    p = _Playout()
    assert p.machine.on_agent_event(EventType.INTERRUPTION, agent_state="speaking") is None
    p.speak(2)  # queued, not sent yet
    assert p.machine.on_agent_event(EventType.INTERRUPTION, agent_state="speaking") is None


def test_flush_drops_the_queue_and_a_partial_frame_then_stale_audio() -> None:
    p = _Playout()
    p.speak(4)
    p.machine.on_agent_audio(PCM_20MS[:100])  # a partial frame waits in the converter
    assert p.machine.flush() == 4
    assert p.counters.flushes == 1
    assert p.machine.last_flush_at == p.clock()
    assert p.machine.pop_frame() is None
    assert not p.speak(1)  # the interrupted speech, still in flight
    assert p.counters.dropped_outbound == 1
    p.clock.advance(STALE_AFTER_FLUSH_S - 0.001)
    assert not p.speak(1)
    assert p.counters.dropped_outbound == 2
    p.clock.advance(0.001)
    assert p.speak(1)
    assert [len(f) for f in p.drain()] == [160]  # the partial frame did not survive


def test_speaking_again_or_keying_a_digit_ends_the_stale_window() -> None:
    p = _Playout()
    p.machine.flush()
    p.machine.on_agent_state("listening", "speaking")
    assert p.speak(1)
    p.drain()
    p.machine.flush()
    assert p.machine.on_agent_dtmf("1")
    assert p.speak(1)
    assert p.counters.dropped_outbound == 0


def test_agent_digits_are_queued_as_their_tones() -> None:
    p = _Playout()
    assert p.machine.on_agent_dtmf("7")
    assert p.machine.on_agent_dtmf("#")
    assert not p.machine.on_agent_dtmf("Z")
    assert p.counters.dtmf_out == 2
    frames = p.drain()
    assert len(frames) == 16  # 2 x (100 ms tone + 60 ms gap)
    heard = detect_dtmf(ulaw_decode(b"".join(frames)), sample_rate_hz=8000)
    assert heard == "7#"


def test_steady_playout_sheds_nothing() -> None:
    p = _Playout()
    for i in range(100):  # one frame every 20 ms, sent at once: a lead of one frame
        p.machine.on_agent_audio(PCM_20MS if i % 2 else VOICE_20MS)
        p.drain()
        p.clock.advance(0.02)
    assert p.counters.silence_shed == 0
    assert p.counters.frames_out == 100


def test_silence_after_a_burst_is_shed_until_the_carrier_catches_up() -> None:
    p = _Playout()
    p.machine.on_agent_audio(VOICE_20MS * 30)  # 600 ms of speech at once: a stall's lump
    assert len(p.drain()) == 30
    assert p.machine.ahead_ms() == 600.0
    for _ in range(10):  # the agent's pause right after: not sent while we are ahead
        assert not p.machine.on_agent_audio(PCM_20MS)
    assert p.counters.silence_shed == 10
    assert p.drain() == []
    assert p.machine.on_agent_audio(VOICE_20MS)  # speech is never shed
    assert len(p.drain()) == 1
    p.clock.advance(0.58)  # the carrier played 580 ms meanwhile: 40 ms ahead now
    assert p.machine.ahead_ms() == pytest.approx(40.0)
    assert p.machine.on_agent_audio(PCM_20MS)  # within the bound: silence is sent again
    assert p.counters.silence_shed == 10


def test_a_flush_empties_the_carriers_buffer_so_the_lead_too() -> None:
    p = _Playout()
    p.machine.on_agent_audio(VOICE_20MS * 30)
    p.drain()
    p.machine.flush()
    assert p.machine.ahead_ms() == 0.0


def test_the_gaps_of_agent_digits_are_never_shed() -> None:
    p = _Playout()
    p.machine.on_agent_audio(VOICE_20MS * 30)
    p.drain()
    assert p.machine.on_agent_dtmf("1")
    assert p.machine.on_agent_dtmf("2")
    pcm = ulaw_decode(b"".join(p.drain()))
    assert detect_dtmf(pcm, sample_rate_hz=8000) == "12"
    assert p.counters.silence_shed == 0


def test_only_silence_sent_since_a_flush_needs_no_second_one() -> None:
    """The room's silence keeps flowing after a barge-in's clear; the later interruption
    event must not clear the carrier again for it."""
    p = _Playout()
    p.machine.on_agent_state("listening", "speaking")
    p.speak(3)
    p.drain()
    p.machine.on_agent_event(EventType.USER_SPEECH_START, agent_state="speaking")
    assert p.machine.on_agent_state("speaking", "listening") == Flush("agent_interrupted")
    p.machine.flush()
    p.clock.advance(STALE_AFTER_FLUSH_S + 0.1)  # the stale window is over
    p.machine.on_agent_audio(np.zeros(160, dtype=np.int16).tobytes())
    assert p.drain()  # silence went out
    assert p.machine.on_agent_event(EventType.INTERRUPTION, agent_state="listening") is None


def _silence_ahead_of_a_reply(
    p: _Playout, *, seconds: float = 2.0, stall_at_s: float = -1.0
) -> float:
    """The agent's silence for ``seconds`` (20 ms frames sent at once, arriving 4 ms early
    and late in turn; at ``stall_at_s``, if given, a 100 ms stall and five frames at once
    after it), then a reply: how far ahead the carrier is (ms) when the reply's first frame
    is queued, i.e. the silence the reply waits behind."""
    stall_frame = round(stall_at_s / 0.02) if stall_at_s >= 0 else -1
    for i in range(round(seconds / 0.02)):
        p.machine.on_agent_audio(PCM_20MS)
        p.drain()
        if i == stall_frame:
            p.clock.advance(0.1)
            for _ in range(4):  # the stall's frames arrive at once
                p.machine.on_agent_audio(PCM_20MS)
                p.drain()
        p.clock.advance((20.0 + (4.0 if i % 2 else -4.0)) / 1000)
    ahead = p.machine.ahead_ms()
    assert p.speak()
    return ahead


def test_a_reply_waits_behind_no_more_silence_than_the_cushion() -> None:
    p = _Playout()
    ahead = _silence_ahead_of_a_reply(p)
    assert p.machine.cushion_ms() == 10.0  # frames within 4 ms of their time: the smallest
    assert ahead <= 10.0


def test_a_stall_widens_the_cushion_and_its_lead_is_shed_as_it_narrows() -> None:
    p = _Playout()
    ahead = _silence_ahead_of_a_reply(p, stall_at_s=1.0)
    assert p.machine.cushion_ms() == 60.0  # 80 ms late: the largest cushion
    assert 40.0 <= ahead <= 60.0  # the stall's burst is kept
    p = _Playout()
    ahead = _silence_ahead_of_a_reply(p, seconds=20.0, stall_at_s=1.0)
    assert p.machine.cushion_ms() == 10.0  # forgotten (5 ms per s)
    assert ahead <= 10.0
    assert p.counters.silence_shed > 0  # the burst's lead drained in the silence


def test_a_fixed_cushion_keeps_the_former_60_ms_lead() -> None:
    p = _Playout(policy=MediaPolicy(playout_cushion_ms=60))
    assert 40.0 <= _silence_ahead_of_a_reply(p, seconds=20.0, stall_at_s=1.0) <= 60.0


def test_the_cushion_setting_is_checked() -> None:
    with pytest.raises(
        ValueError, match=r"^MediaPolicy.playout_cushion_ms: must be None or 0-1000 ms, got -5$"
    ):
        MediaPolicy(playout_cushion_ms=-5)
