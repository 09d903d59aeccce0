"""bench/latency_sip_caller.py's pure parts: the phone's speech as 8 kHz μ-law in 20 ms
packets with the speech in the last one, the agent's RTP kept in 10 ms pieces from its
arrival, the RTP peer telling when its queue was sent, and the SIP rows' clipped-words
check at 8 kHz (no timing asserted beyond ordering)."""

from __future__ import annotations

import struct
import time
from typing import cast

import numpy as np
import pytest

from bench.latency_rows import CallerClient, Row
from bench.latency_sip_caller import (
    PACKET_SAMPLES,
    SIP_RATE_HZ,
    HeardAudio,
    _HeardPeer,
    speech_packets,
)
from bench.latency_twilio_caller import telephone_band
from bench.pipeline import AGENT_RATE_HZ
from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode
from omnivoice_rtc.simulate.rtp_peer import PCMU, TELEPHONE_EVENT, RtpPeer
from tests.integration.agent.voice_client import MIC_RATE_HZ

pytestmark = pytest.mark.unit


def _tone(hz: float, seconds: float, rate_hz: int, amp: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_speech_becomes_8_khz_ulaw_and_the_last_packet_counts_only_its_speech() -> None:
    ulaw, tail_s = speech_packets(_tone(440, 0.05, MIC_RATE_HZ))  # 400 samples at 8 kHz
    assert len(ulaw) == pytest.approx(400, abs=2)
    assert tail_s == pytest.approx((len(ulaw) - 2 * PACKET_SAMPLES) / SIP_RATE_HZ)
    decoded = np.frombuffer(ulaw_decode(ulaw), dtype=np.int16)
    assert _rms(decoded[50:350]) == pytest.approx(8000 / np.sqrt(2), rel=0.1)
    whole, whole_tail = speech_packets(_tone(440, 0.04, MIC_RATE_HZ))  # exactly 2 packets
    assert (len(whole), whole_tail) == (2 * PACKET_SAMPLES, 0.02)
    assert speech_packets(np.zeros(0, dtype=np.int16)) == (b"", 0.0)


def test_high_frequencies_do_not_reach_the_phone() -> None:
    ulaw, _ = speech_packets(_tone(6000, 0.5, MIC_RATE_HZ))
    decoded = np.frombuffer(ulaw_decode(ulaw), dtype=np.int16)
    assert _rms(decoded[400:-400]) < 200


def test_a_received_packet_is_kept_in_10_ms_pieces_from_its_arrival() -> None:
    heard = HeardAudio()
    heard.add(10.0, np.zeros(PACKET_SAMPLES, dtype=np.int16))
    loud = _tone(500, 0.02, SIP_RATE_HZ)
    heard.add(10.02, loud)
    heard.add(10.04, np.zeros(PACKET_SAMPLES, dtype=np.int16))
    assert [f.received_at for f in heard.frames] == pytest.approx(
        [10.0, 10.01, 10.02, 10.03, 10.04, 10.05]
    )
    assert [f.duration_s for f in heard.frames] == pytest.approx([0.01] * 6)
    assert heard.first_after(10.0) == pytest.approx(10.02)
    assert heard.first_after(10.031) is None
    assert heard.last() == pytest.approx(10.03)
    assert np.array_equal(heard.between(10.02, 10.035), loud)
    assert heard.between(11.0, 12.0).size == 0
    assert HeardAudio().last() is None


def _rtp(payload_type: int, payload: bytes, seq: int = 1) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, 160 * seq, 1234) + payload


async def test_the_peer_hands_on_pcmu_packets_only() -> None:
    peer = _HeardPeer()
    peer.heard = HeardAudio()
    loud = _tone(500, 0.02, SIP_RATE_HZ)
    before = time.monotonic()
    peer.datagram_received(_rtp(PCMU, ulaw_encode(loud.tobytes())), ("127.0.0.1", 5004))
    peer.datagram_received(_rtp(TELEPHONE_EVENT, b"\x01\x0a\x00\xa0", 2), ("127.0.0.1", 5004))
    assert len(peer.heard.frames) == 2  # one 20 ms PCMU packet, the event ignored
    assert peer.heard.frames[0].received_at >= before
    expected = np.frombuffer(ulaw_decode(ulaw_encode(loud.tobytes())), dtype=np.int16)
    assert np.array_equal(peer.heard.between(0.0, time.monotonic() + 1), expected)


async def test_the_peer_tells_when_the_last_queued_packet_was_sent() -> None:
    peer = RtpPeer()  # no socket: the sender paces and drops its packets
    assert peer.queue_sent_at is None
    peer.start(("127.0.0.1", 9))
    try:
        peer.play(b"\x00" * (2 * PACKET_SAMPLES + 40))  # 3 packets
        queued = time.monotonic()
        sent = await peer.wait_sent()
        assert peer.queued_s() == 0.0
        assert queued <= sent <= time.monotonic()
        assert sent - queued >= 0.03  # the third packet goes 40 ms after the first
        assert await peer.wait_sent() == sent  # nothing queued since
    finally:
        await peer.aclose()


def test_a_sip_reply_is_checked_at_8_khz_against_the_band_limited_reference() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(AGENT_RATE_HZ) / AGENT_RATE_HZ
    voiced = 6000 * np.sin(2 * np.pi * (200 + 400 * t) * t) + rng.normal(0, 300, t.size)
    reply = np.concatenate([np.zeros(2400), voiced]).astype(np.int16)
    reference = telephone_band(reply)
    row = Row(
        "sip",
        "ours",
        client=cast(CallerClient, object()),  # only the check is used
        reference=reference,
        rate_hz=SIP_RATE_HZ,
    )

    def received(pcm: np.ndarray) -> np.ndarray:
        heard = HeardAudio()
        stream = np.concatenate([np.zeros(1600, np.int16), pcm, np.zeros(800, np.int16)])
        for i, at in enumerate(range(0, stream.size, PACKET_SAMPLES)):
            heard.add(100.0 + 0.02 * i, stream[at : at + PACKET_SAMPLES])
        return heard.between(100.0, 200.0)

    assert row.head_ok(reply, received(reference))
    clipped = reference.copy()
    clipped[800 : 800 + SIP_RATE_HZ // 10] = 0  # the first 100 ms of speech lost
    assert not row.head_ok(reply, received(clipped))
