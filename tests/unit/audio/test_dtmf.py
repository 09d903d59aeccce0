"""In-band DTMF: every digit's tone pair is generated and read back, also through μ-law."""

from __future__ import annotations

import numpy as np
import pytest

from omnivoice_rtc.audio.dtmf import DTMF_DIGITS, detect_dtmf, dtmf_tone
from omnivoice_rtc.audio.g711 import ulaw_decode, ulaw_encode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("rate_hz", [8000, 16000, 48000])
def test_every_digit_round_trips(rate_hz: int) -> None:
    for digit in sorted(DTMF_DIGITS):
        assert detect_dtmf(dtmf_tone(digit, sample_rate_hz=rate_hz), sample_rate_hz=rate_hz) == (
            digit
        )


def test_a_sequence_through_mulaw_keeps_order_and_repeats() -> None:
    pcm = b"".join(dtmf_tone(d, sample_rate_hz=8000) for d in "1#55*0")
    assert detect_dtmf(ulaw_decode(ulaw_encode(pcm)), sample_rate_hz=8000) == "1#55*0"


def test_tone_shape_length_level_and_silent_gap() -> None:
    pcm = np.frombuffer(dtmf_tone("5", sample_rate_hz=8000, tone_ms=100, gap_ms=60), np.int16)
    assert len(pcm) == 8000 * 160 // 1000
    assert 0.25 * 32767 < np.abs(pcm[:800]).max() < 0.4 * 32767  # about -10 dBFS peak
    assert not pcm[800:].any()


def test_speech_like_noise_and_silence_are_not_digits() -> None:
    rng = np.random.default_rng(7)
    noise = (rng.normal(0, 3000, 8000)).astype(np.int16).tobytes()
    assert detect_dtmf(noise, sample_rate_hz=8000) == ""
    assert detect_dtmf(bytes(16000), sample_rate_hz=8000) == ""
    one_tone = (8000 * np.sin(2 * np.pi * 770 * np.arange(1600) / 8000)).astype(np.int16)
    assert detect_dtmf(one_tone.tobytes(), sample_rate_hz=8000) == ""


def test_bad_arguments_have_exact_messages() -> None:
    with pytest.raises(ValueError, match=r"^dtmf digit must be one of 0-9, \*, #, A-D, got 'x'$"):
        dtmf_tone("x", sample_rate_hz=8000)
    with pytest.raises(ValueError, match=r"got '12'$"):
        dtmf_tone("12", sample_rate_hz=8000)
    with pytest.raises(ValueError, match=r"^dtmf sample_rate_hz must be >= 4000 Hz, got 2000$"):
        dtmf_tone("1", sample_rate_hz=2000)
    with pytest.raises(ValueError, match=r"^dtmf tone_ms must be > 0 and gap_ms >= 0, got 0, 60$"):
        dtmf_tone("1", sample_rate_hz=8000, tone_ms=0)
