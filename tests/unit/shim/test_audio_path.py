"""Carrier <-> room audio conversion: frame sizes and durations."""

from __future__ import annotations

import numpy as np
import pytest

from omnivoice_rtc.audio.format import PLIVO, TWILIO, VONAGE, VONAGE_8K
from omnivoice_rtc.audio.g711 import ulaw_decode
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio, room_rate_for

pytestmark = pytest.mark.unit


def _tone(rate: int, ms: int) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()


def test_room_rate_is_the_carrier_rate() -> None:
    assert room_rate_for(TWILIO) == 8000
    assert room_rate_for(VONAGE) == 16000


def test_inbound_mulaw_becomes_pcm16_of_the_same_duration() -> None:
    inbound = InboundAudio(carrier_format=TWILIO, room_rate_hz=8000)
    payload = b"\xff" * 160
    assert inbound.ms_of(payload) == 20.0
    assert len(inbound.convert(payload)) == 320


@pytest.mark.parametrize(("fmt", "frame_bytes"), [(TWILIO, 160), (VONAGE, 640), (VONAGE_8K, 320)])
def test_outbound_frames_are_exactly_20_ms(fmt: object, frame_bytes: int) -> None:
    out = OutboundAudio(carrier_format=fmt, room_rate_hz=room_rate_for(fmt))  # type: ignore[arg-type]  # reason: parametrised AudioFormat
    rate = room_rate_for(fmt)  # type: ignore[arg-type]  # reason: parametrised AudioFormat
    pcm = _tone(rate, 1000)
    frames: list[bytes] = []
    step = 7 * rate // 1000 * 2  # odd 7 ms chunks: output must still be whole 20 ms frames
    for i in range(0, len(pcm), step):
        frames += out.convert(pcm[i : i + step])
    assert {len(f) for f in frames} == {frame_bytes}
    assert len(frames) == 50


def test_outbound_mulaw_keeps_the_signal_and_reset_drops_partial_frames() -> None:
    out = OutboundAudio(carrier_format=PLIVO, room_rate_hz=8000)
    pcm = _tone(8000, 20)
    (frame,) = out.convert(pcm)
    decoded = np.frombuffer(ulaw_decode(frame), dtype=np.int16)
    original = np.frombuffer(pcm, dtype=np.int16)
    assert np.max(np.abs(decoded.astype(int) - original.astype(int))) < 400
    assert out.convert(pcm[:100]) == []
    out.reset()
    assert len(out.convert(pcm)) == 1
