"""bench/latency_twilio_caller.py's pure parts: the caller's speech as 20 ms μ-law frames,
the agent's audio cut into 10 ms pieces from when it plays, Twilio's playout order, and the
band-limited reference the Twilio rows' clipped-words check uses (no timing asserted)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import aiohttp
import numpy as np
import pytest

from bench.latency_rows import CallerClient, Row
from bench.latency_twilio_caller import (
    FRAME_BYTES,
    TWILIO_RATE_HZ,
    HeardPlayout,
    heard_frames,
    telephone_band,
    ulaw_frames,
)
from bench.pipeline import AGENT_RATE_HZ
from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode
from omnivoice_rtc.media_streams.messages import Clear, SendMedia
from omnivoice_rtc.media_streams.twilio import TwilioCodec

pytestmark = pytest.mark.unit

STREAM = "MZ" + "0" * 32


def _tone(hz: float, seconds: float, rate_hz: int, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_speech_becomes_20_ms_ulaw_frames_and_the_last_counts_only_its_speech() -> None:
    pcm = _tone(440, 0.05, TWILIO_RATE_HZ)  # 400 samples: 2 whole frames and 80 samples
    frames = ulaw_frames(pcm)
    assert [len(payload) for payload, _ in frames] == [FRAME_BYTES] * 3
    assert [voiced for _, voiced in frames] == [160, 160, 80]
    assert frames[0][0] == ulaw_encode(pcm[:160].tobytes())
    tail = np.frombuffer(ulaw_decode(frames[2][0]), dtype=np.int16)
    assert not tail[80:].any()  # padded with μ-law silence


def test_heard_audio_is_cut_in_10_ms_pieces_from_when_it_plays() -> None:
    samples = np.arange(200, dtype=np.int16)  # 25 ms at 8 kHz
    pieces = heard_frames(5.0, samples)
    assert [at for at, _ in pieces] == pytest.approx([5.0, 5.01, 5.02])
    assert [p.size for _, p in pieces] == [80, 80, 40]
    assert np.array_equal(np.concatenate([p for _, p in pieces]), samples)


def test_the_telephone_band_keeps_speech_and_drops_what_8_khz_cannot_carry() -> None:
    low = telephone_band(_tone(1000, 1.0, AGENT_RATE_HZ))
    high = telephone_band(_tone(6000, 1.0, AGENT_RATE_HZ))
    assert low.size == pytest.approx(TWILIO_RATE_HZ, abs=80)

    def rms(x: np.ndarray) -> float:
        mid = x[x.size // 4 : 3 * x.size // 4].astype(np.float64)
        return float(np.sqrt(np.mean(mid**2)))

    assert rms(low) > 4000  # an 8000-peak tone: ~5650 RMS
    assert rms(high) < 200


def _reply() -> np.ndarray:
    """A speech stand-in at 24 kHz: 100 ms of silence, then 1 s of a chirp in the phone band."""
    rng = np.random.default_rng(1)
    t = np.arange(AGENT_RATE_HZ) / AGENT_RATE_HZ
    voiced = 6000 * np.sin(2 * np.pi * (200 + 400 * t) * t) + rng.normal(0, 300, t.size)
    return np.concatenate([np.zeros(2400), voiced]).astype(np.int16)


def _row() -> Row:
    return Row(
        "twilio",
        "ours",
        client=cast(CallerClient, object()),  # only the check is used
        reference=telephone_band(_reply()),
        rate_hz=TWILIO_RATE_HZ,
    )


def test_a_twilio_reply_is_checked_at_8_khz_against_the_band_limited_reference() -> None:
    row = _row()
    heard = telephone_band(_reply())
    received = np.concatenate([np.zeros(2000, np.int16), heard, np.zeros(700, np.int16)])
    assert row.head_ok(_reply(), received)
    clipped = heard.copy()
    clipped[800 : 800 + TWILIO_RATE_HZ // 10] = 0  # the first 100 ms of speech lost
    assert not row.head_ok(_reply(), np.concatenate([np.zeros(2000, np.int16), clipped]))


@dataclass
class _Message:
    type: aiohttp.WSMsgType
    data: str


class _Socket:
    """What HeardPlayout reads: the given text frames, then the end of the stream."""

    closed = False
    close_code = 1000

    def __init__(self, frames: list[str]) -> None:
        self._frames = frames

    def __aiter__(self) -> AsyncIterator[_Message]:
        return self._read()

    async def _read(self) -> AsyncIterator[_Message]:
        for frame in self._frames:
            yield _Message(aiohttp.WSMsgType.TEXT, frame)


async def test_audio_sent_ahead_plays_after_what_the_caller_holds_and_clear_is_told() -> None:
    codec = TwilioCodec(stream_id=STREAM)
    payloads = [ulaw_encode(_tone(300 * (i + 1), 0.02, TWILIO_RATE_HZ).tobytes()) for i in range(4)]
    frames = [codec.serialize(SendMedia(payload=p, stream_id=STREAM)) for p in payloads]
    frames.append(codec.serialize(Clear(stream_id=STREAM)))
    heard: list[tuple[float, float, np.ndarray]] = []
    clears: list[float] = []
    playout = HeardPlayout(
        stream_id=STREAM,
        codec=codec,
        on_heard=lambda arrived, at, samples: heard.append((arrived, at, samples)),
        on_clear=clears.append,
    )
    playout.start(cast(aiohttp.ClientWebSocketResponse, _Socket(frames)))
    await playout.wait_closed()
    await playout.aclose()
    assert len(heard) == 4
    assert len(clears) == 1
    for (arrived, at, samples), payload in zip(heard, payloads, strict=True):
        assert at >= arrived  # never heard before it arrived
        assert np.array_equal(samples, np.frombuffer(ulaw_decode(payload), dtype=np.int16))
    starts = [at for _, at, _ in heard]
    # one after another: each piece starts once the 20 ms before it have played
    assert all(b - a >= 0.02 - 1e-9 for a, b in itertools.pairwise(starts))


def test_a_playout_that_runs_dry_inside_the_agents_speech_is_a_gap() -> None:
    codec = TwilioCodec(stream_id=STREAM)
    playout = HeardPlayout(
        stream_id=STREAM, codec=codec, on_heard=lambda *_: None, on_clear=lambda _: None
    )
    voice = ulaw_encode(_tone(440, 0.02, TWILIO_RATE_HZ).tobytes())
    silence = ulaw_encode(bytes(2 * FRAME_BYTES))
    playout._play(voice, 10.0)  # plays 10.00-10.02
    playout._play(voice, 10.01)  # early: queued, 10.02-10.04
    playout._play(voice, 10.07)  # 30 ms after the playout ran dry: a gap
    playout._play(silence, 10.2)  # a pause in the speech
    playout._play(voice, 10.3)  # after silence: a new word, not a gap
    assert playout.voice_gaps_ms == pytest.approx([30.0])
    assert playout.voiced_s == pytest.approx(0.08)
