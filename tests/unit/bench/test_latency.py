"""bench/latency.py's checks: the clipped-head test can fail, and the JSON summary has a
row per route and peer with null where nothing was measured (no timing asserted)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from bench.latency import RecordingClient as _Client
from bench.latency import Row, head_arrived, reasons, summary
from bench.pipeline import AGENT_RATE_HZ

pytestmark = pytest.mark.unit


def _reply() -> np.ndarray:
    """A speech stand-in at 24 kHz: 100 ms of silence, then 1 s of a chirp."""
    rng = np.random.default_rng(1)
    t = np.arange(AGENT_RATE_HZ) / AGENT_RATE_HZ
    voiced = 6000 * np.sin(2 * np.pi * (200 + 400 * t) * t) + rng.normal(0, 300, t.size)
    return np.concatenate([np.zeros(2400), voiced]).astype(np.int16)


def test_a_whole_reply_after_a_delay_has_its_head() -> None:
    reply = _reply()
    received = np.concatenate([np.zeros(7000, dtype=np.int16), reply, np.zeros(2000, np.int16)])
    assert head_arrived(reply, received)


def test_a_reply_missing_its_first_100_ms_of_speech_is_clipped() -> None:
    reply = _reply()
    clipped = reply.copy()
    clipped[2400 : 2400 + AGENT_RATE_HZ // 10] = 0
    received = np.concatenate([np.zeros(7000, dtype=np.int16), clipped])
    assert not head_arrived(reply, received)


def test_nothing_received_is_no_head() -> None:
    assert not head_arrived(_reply(), np.zeros(100, dtype=np.int16))


def test_summary_has_every_peer_per_route_and_null_without_a_row() -> None:
    client = cast(_Client, object())
    ours = Row("webrtc", "ours", client, samples_ms=[500.0, 600.0, 700.0])
    bare = Row("webrtc", "bare", client, samples_ms=[800.0, 900.0, 1000.0])
    out = summary([ours, bare], ["webrtc", "sip"])
    assert out == {
        "webrtc": {"ours_ms": 200.0, "bare_ms": 500.0, "pipecat_ms": None},
        "sip": {"ours_ms": None, "bare_ms": None, "pipecat_ms": None},
    }
    why = reasons([ours, bare], ["webrtc", "sip"])
    assert any(line.startswith("webrtc/pipecat: null") for line in why)
    assert sum(line.startswith("sip/") for line in why) == 3
