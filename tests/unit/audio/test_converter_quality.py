"""Quality of the streaming converter, measured on synthetic tones and noise, on both backends.

Conditions (issue 4): constant output frames, <= 5 ms added delay, streaming within 2 LSB of
one-shot, >= 80 dB rejection of a 6 kHz tone going 48k -> 8k, >= 60 dB image rejection of a
3.4 kHz tone going up, flat within +-0.5 dB to 3.4 kHz, 1 kHz SNR >= 85 dB.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from omnivoice_rtc.audio import (
    AudioConverter,
    AudioEncoding,
    AudioFormat,
    StreamConverter,
    compiled_backend_available,
    resample,
)
from tests.conftest import require

from ._signals import db, fit_sine, noise, rms, tone, trim

pytestmark = pytest.mark.unit

RATES = (8000, 16000, 24000, 48000)
PAIRS = [(a, b) for a in RATES for b in RATES if a != b]
BACKENDS = ["c", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "c":
        require(compiled_backend_available(), "compiled extension omnivoice_rtc.audio._fastaudio")
    return name


def pcm(rate: int) -> AudioFormat:
    return AudioFormat(AudioEncoding.PCM16, rate)


def stream(
    x: npt.NDArray[np.int16], from_rate: int, to_rate: int, backend: str, frame_ms: int = 20
) -> tuple[npt.NDArray[np.int16], list[int], StreamConverter]:
    """Run x through a StreamConverter in frames; returns (output incl. flush, frame sizes)."""
    conv = StreamConverter(from_format=pcm(from_rate), to_format=pcm(to_rate), backend=backend)  # type: ignore[arg-type]  # reason: parametrized str
    step = from_rate * frame_ms // 1000
    raw = x.tobytes()
    outs = [conv.process(raw[i : i + 2 * step]) for i in range(0, len(raw), 2 * step)]
    sizes = [len(o) for o in outs]
    y = np.frombuffer(b"".join(outs) + conv.flush(), dtype=np.int16)
    return y, sizes, conv


def aligned(
    x: npt.NDArray[np.int16], from_rate: int, to_rate: int, backend: str
) -> npt.NDArray[np.int16]:
    """Streamed output with the group delay removed (time-aligned with the input)."""
    y, _, conv = stream(x, from_rate, to_rate, backend)
    return y[conv.filter.delay_out_samples :]


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
@pytest.mark.parametrize("frame_ms", [10, 20, 40])
def test_one_output_frame_of_constant_size_per_input_frame(
    backend: str, from_rate: int, to_rate: int, frame_ms: int
) -> None:
    x = noise(from_rate, 0.48)  # a whole number of 10/20/40 ms frames
    _, sizes, _ = stream(x, from_rate, to_rate, backend, frame_ms)
    assert sizes == [2 * to_rate * frame_ms // 1000] * len(sizes)


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_added_delay_measured_on_an_impulse_is_at_most_5_ms(
    backend: str, from_rate: int, to_rate: int
) -> None:
    x = np.zeros(from_rate // 10, dtype=np.int16)  # 100 ms
    at = from_rate // 100  # impulse at 10 ms (a multiple of the decimation factor)
    x[at] = 30000
    y, _, conv = stream(x, from_rate, to_rate, backend)
    peak = int(np.argmax(np.abs(y.astype(np.int32))))
    delay_ms = 1000.0 * (peak / to_rate - at / from_rate)
    assert 0.0 < delay_ms <= 5.0
    assert delay_ms == pytest.approx(conv.delay_ms, abs=1000.0 / to_rate)


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_streaming_within_2_lsb_of_one_shot(backend: str, from_rate: int, to_rate: int) -> None:
    x = noise(from_rate, 0.5, rms=6000.0)
    one_shot = resample(x, from_rate=from_rate, to_rate=to_rate)  # float64 numpy reference
    via_convert = np.frombuffer(
        AudioConverter(backend=backend).convert(x.tobytes(), pcm(from_rate), pcm(to_rate)),  # type: ignore[arg-type]  # reason: parametrized str
        dtype=np.int16,
    )
    streamed = aligned(x, from_rate, to_rate, backend)
    assert len(streamed) == len(one_shot) == len(via_convert) == len(x) * to_rate // from_rate
    assert np.max(np.abs(streamed.astype(np.int32) - one_shot)) <= 2
    assert np.max(np.abs(via_convert.astype(np.int32) - one_shot)) <= 2


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_irregular_chunks_match_fixed_frames(backend: str, from_rate: int, to_rate: int) -> None:
    x = noise(from_rate, 0.4, seed=11)
    conv = StreamConverter(from_format=pcm(from_rate), to_format=pcm(to_rate), backend=backend)  # type: ignore[arg-type]  # reason: parametrized str
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.choice(np.arange(1, len(x)), size=40, replace=False))
    parts = [conv.process(c.tobytes()) for c in np.split(x, cuts)]
    y = np.frombuffer(b"".join(parts) + conv.flush(), dtype=np.int16)
    ref, _, _ = stream(x, from_rate, to_rate, backend)
    assert len(y) == len(ref)
    assert np.max(np.abs(y.astype(np.int32) - ref)) <= 1


def test_6khz_tone_rejected_by_at_least_80_db_going_48k_to_8k(backend: str) -> None:
    x = tone(6000, 48000, 0.5)
    y = trim(aligned(x, 48000, 8000, backend), 8000)
    assert db(rms(y) / rms(x)) <= -80.0


@pytest.mark.parametrize(("from_rate", "to_rate"), [p for p in PAIRS if p[1] < p[0]])
def test_stopband_tone_rejected_by_at_least_80_db_going_down(
    backend: str, from_rate: int, to_rate: int
) -> None:
    freq = min(0.75 * to_rate, 0.46 * from_rate)  # above 1.15 x the output Nyquist
    x = tone(freq, from_rate, 0.5)
    y = trim(aligned(x, from_rate, to_rate, backend), to_rate)
    assert db(rms(y) / rms(x)) <= -80.0


@pytest.mark.parametrize(("from_rate", "to_rate"), [p for p in PAIRS if p[1] > p[0]])
def test_images_of_passband_edge_tone_rejected_by_at_least_60_db_going_up(
    backend: str, from_rate: int, to_rate: int
) -> None:
    freq = 0.85 * from_rate / 2  # 3.4 kHz from 8 kHz
    y = trim(aligned(tone(freq, from_rate, 0.5), from_rate, to_rate, backend), to_rate)
    amplitude, residual = fit_sine(y, freq, to_rate)
    assert db(rms(residual) / (amplitude / np.sqrt(2))) <= -60.0


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
@pytest.mark.parametrize("freq", [100, 300, 1000, 2000, 3000, 3400])
def test_flat_within_half_db_to_3400_hz(
    backend: str, from_rate: int, to_rate: int, freq: int
) -> None:
    x = tone(freq, from_rate, 0.3, amplitude=0.5)
    y = trim(aligned(x, from_rate, to_rate, backend), to_rate)
    gain = db(fit_sine(y, freq, to_rate)[0] / fit_sine(x, freq, from_rate)[0])
    assert abs(gain) <= 0.5


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_1khz_snr_at_least_85_db(backend: str, from_rate: int, to_rate: int) -> None:
    y = trim(aligned(tone(1000, from_rate, 0.5), from_rate, to_rate, backend), to_rate)
    amplitude, residual = fit_sine(y, 1000, to_rate)
    assert db((amplitude / np.sqrt(2)) / rms(residual)) >= 85.0


@pytest.mark.parametrize(("from_rate", "to_rate"), PAIRS)
def test_no_clicks_at_frame_edges(backend: str, from_rate: int, to_rate: int) -> None:
    # a slowly varying tone must stay smooth across every 20 ms boundary
    y = trim(aligned(tone(440, from_rate, 0.4), from_rate, to_rate, backend), to_rate)
    _, residual = fit_sine(y, 440, to_rate)
    assert np.max(np.abs(residual)) <= 3.0
