"""Synthetic signals and measurements shared by the audio tests."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FULL_SCALE = 32767.0


def tone(
    freq_hz: float, rate_hz: int, seconds: float, amplitude: float = 0.9
) -> npt.NDArray[np.int16]:
    """A sine of ``amplitude`` x full scale, rounded to int16."""
    t = np.arange(round(rate_hz * seconds)) / rate_hz
    return np.rint(amplitude * FULL_SCALE * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def noise(
    rate_hz: int, seconds: float, rms: float = 4000.0, seed: int = 7
) -> npt.NDArray[np.int16]:
    """White Gaussian noise clipped to int16."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(round(rate_hz * seconds)) * rms
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def fit_sine(
    y: npt.NDArray[np.int16], freq_hz: float, rate_hz: int
) -> tuple[float, npt.NDArray[np.float64]]:
    """Least-squares fit of a sine at ``freq_hz`` (plus DC); returns (amplitude, residual)."""
    yf = y.astype(np.float64)
    t = np.arange(len(yf)) / rate_hz
    basis = np.stack(
        [np.sin(2 * np.pi * freq_hz * t), np.cos(2 * np.pi * freq_hz * t), np.ones_like(t)], axis=1
    )
    coef, *_ = np.linalg.lstsq(basis, yf, rcond=None)
    residual = yf - basis @ coef
    return float(np.hypot(coef[0], coef[1])), residual


def trim(y: npt.NDArray[np.int16], rate_hz: int, ms: float = 20.0) -> npt.NDArray[np.int16]:
    """Drop ``ms`` at both ends (filter start-up and tail transients)."""
    n = round(rate_hz * ms / 1000)
    return y[n:-n]


def db(ratio: float) -> float:
    return 20.0 * float(np.log10(max(ratio, 1e-30)))


def rms(y: npt.NDArray[np.int16] | npt.NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean(np.square(y.astype(np.float64)))))
