"""Streaming polyphase FIR resampler for the fixed telephony/model/WebRTC rate pairs.

Design (once per rate pair, cached): a linear-phase Kaiser-windowed sinc at the common rate
``from_rate * L`` (``L/M`` the reduced ratio) with

* passband edge 0.85 x the lower Nyquist frequency (3.4 kHz for 8 kHz, 6.8 kHz for 16 kHz),
* stopband edge 1.15 x the lower Nyquist frequency (4.6 kHz for 8 kHz),
* 90 dB stopband attenuation (Kaiser beta 9.0),
* an odd length whose half-length is a multiple of ``L*M``, so the group delay is a whole number
  of both input and output samples (1.25-2.5 ms; see :attr:`PolyphaseFilter.delay_ms`).

Streaming: :class:`StreamingResampler` keeps the last ``taps_per_phase - 1`` input samples and
the phase of the next output sample, so every call returns exactly the output samples whose
time lies within the input seen so far: ``len(out) == ceil(total_in * L / M) - previously_out``.
A 20 ms input frame therefore always gives a 20 ms output frame; no output is held back beyond
the filter's group delay. :meth:`StreamingResampler.flush` drains that delay and resets.

This is the always-correct numpy path; ``omnivoice_rtc.audio.converter`` uses the compiled
``_fastaudio`` extension for the same filters when it is available.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnivoice_rtc.audio.format import SUPPORTED_RATES

__all__ = [
    "PolyphaseFilter",
    "StreamingResampler",
    "design_filter",
    "resample",
]

PASSBAND_FRACTION = 0.85
"""Passband edge as a fraction of the lower rate's Nyquist frequency."""
STOPBAND_FRACTION = 1.15
"""Stopband edge as a fraction of the lower rate's Nyquist frequency."""
STOPBAND_ATTENUATION_DB = 90.0
"""Kaiser design target for the stopband (dB)."""

Float64Array = npt.NDArray[np.float64]
Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class PolyphaseFilter:
    """A designed resampling filter for one rate pair.

    ``phases`` has shape ``(up, taps_per_phase)``; row ``p`` holds the taps of polyphase branch
    ``p`` in *reversed* order, so output = ``phases[p] @ x[i - taps_per_phase + 1 : i + 1]``.
    """

    from_rate: int
    """Input rate (Hz)."""
    to_rate: int
    """Output rate (Hz)."""
    up: int
    """Interpolation factor L of the reduced ratio L/M."""
    down: int
    """Decimation factor M of the reduced ratio L/M."""
    taps: int
    """Length of the prototype filter at the common rate ``from_rate * up`` (samples)."""
    taps_per_phase: int
    """Taps in each polyphase branch (input samples of history used per output sample)."""
    phases: Float64Array
    delay_out_samples: int
    """Group delay in output samples (an integer by design)."""

    @property
    def delay_ms(self) -> float:
        """Group delay the filter adds (ms)."""
        return 1000.0 * self.delay_out_samples / self.to_rate

    @property
    def flush_input_samples(self) -> int:
        """Zero input samples fed by ``flush`` to push the whole delay line out."""
        return -(-(self.delay_out_samples + 1) * self.down // self.up) + 1


def check_rate(rate: int, what: str) -> None:
    """Raise ValueError unless ``rate`` (Hz) is one the resampler supports."""
    if rate not in SUPPORTED_RATES:
        supported = ", ".join(str(r) for r in SUPPORTED_RATES)
        raise ValueError(f"{what}: unsupported sample rate {rate!r} Hz (supported: {supported})")


@functools.cache
def design_filter(from_rate: int, to_rate: int) -> PolyphaseFilter:
    """Design (once; cached) the polyphase filter for ``from_rate`` -> ``to_rate`` (Hz)."""
    check_rate(from_rate, "design_filter: from_rate")
    check_rate(to_rate, "design_filter: to_rate")
    g = math.gcd(from_rate, to_rate)
    up, down = to_rate // g, from_rate // g
    if up == down:  # identity: a single unit tap
        phases = np.ones((1, 1), dtype=np.float64)
        phases.flags.writeable = False
        return PolyphaseFilter(from_rate, to_rate, 1, 1, 1, 1, phases, 0)
    common_rate = from_rate * up
    nyquist = min(from_rate, to_rate) / 2.0
    f_pass, f_stop = PASSBAND_FRACTION * nyquist, STOPBAND_FRACTION * nyquist
    cutoff = (f_pass + f_stop) / 2.0 / common_rate  # cycles/sample at the common rate
    transition = 2.0 * math.pi * (f_stop - f_pass) / common_rate  # rad/sample
    beta = 0.1102 * (STOPBAND_ATTENUATION_DB - 8.7)
    min_taps = math.ceil((STOPBAND_ATTENUATION_DB - 7.95) / (2.285 * transition)) + 1
    half = -(-(min_taps - 1) // (2 * up * down)) * up * down  # multiple of L*M
    taps = 2 * half + 1
    t = np.arange(taps, dtype=np.float64) - half
    proto = 2.0 * cutoff * np.sinc(2.0 * cutoff * t) * np.kaiser(taps, beta)
    proto *= up / proto.sum()  # DC gain L at the common rate = unity after decimation
    taps_per_phase = -(-taps // up)
    padded = np.zeros(taps_per_phase * up, dtype=np.float64)
    padded[:taps] = proto
    # branch p holds proto[p], proto[p + L], ...; reversed for a forward dot product
    phases = np.ascontiguousarray(padded.reshape(taps_per_phase, up).T[:, ::-1])
    phases.flags.writeable = False
    return PolyphaseFilter(from_rate, to_rate, up, down, taps, taps_per_phase, phases, half // down)


def _windows(buf: Float64Array, start: int, rows: int, cols: int, row_step: int) -> Float64Array:
    """Contiguous copy of ``rows`` windows of ``cols`` samples of ``buf``, ``row_step`` apart.

    (A read-only strided view copied once: overlapping windows are not BLAS-compatible, and
    ``np.ndarray(buffer=...)`` is much cheaper per call than ``as_strided``.)
    """
    item = buf.itemsize
    view: Float64Array = np.ndarray(
        (rows, cols),
        dtype=np.float64,
        buffer=buf,
        offset=start * item,
        strides=(row_step * item, item),
    )
    return np.ascontiguousarray(view)


def _to_int16(y: Float64Array) -> Int16Array:
    np.rint(y, out=y)
    np.clip(y, -32768, 32767, out=y)
    return y.astype(np.int16)


class StreamingResampler:
    """Stateful numpy resampler: int16 samples in, int16 samples out, constant-size frames.

    ``from_rate``/``to_rate`` in Hz, each one of 8000, 16000, 24000, 48000.
    """

    def __init__(self, *, from_rate: int, to_rate: int) -> None:
        self.filter = design_filter(from_rate, to_rate)
        self._history = np.zeros(self.filter.taps_per_phase - 1, dtype=np.float64)
        self._phase_pos = 0  # common-rate index of the next output, relative to history start
        self.reset()

    def reset(self) -> None:
        """Forget all input (zero history, phase 0)."""
        self._history[:] = 0.0
        self._phase_pos = (self.filter.taps_per_phase - 1) * self.filter.up

    def output_len(self, n_in: int) -> int:
        """Output samples the next ``process`` of ``n_in`` input samples returns."""
        f = self.filter
        span = (len(self._history) + n_in) * f.up - self._phase_pos
        return max(0, -(-span // f.down))

    def process(self, samples: npt.NDArray[np.int16] | Float64Array) -> Int16Array:
        """Resample the next chunk of input samples; returns the samples now complete."""
        f = self.filter
        n_hist = len(self._history)
        buf = np.concatenate((self._history, samples.astype(np.float64, copy=False)))
        count = self.output_len(len(samples))
        out = np.empty(count, dtype=np.float64)
        if count and f.down == 1 and self._phase_pos == n_hist * f.up:
            # pure interpolation: one (n, T) @ (T, L) product gives every phase of every input
            windows = _windows(buf, 0, len(samples), f.taps_per_phase, 1)
            out = (windows @ f.phases.T).ravel()
            end = self._phase_pos + count * f.down
        elif count:
            first = self._phase_pos
            for k0 in range(min(f.up, count)):
                pos = first + k0 * f.down
                start = pos // f.up - n_hist  # window start (buffer index) of output k0
                n_k = len(range(k0, count, f.up))
                # L outputs later the newest input sample has moved by M
                rows = _windows(buf, start, n_k, f.taps_per_phase, f.down)
                out[k0 :: f.up] = rows @ f.phases[pos % f.up]
            end = first + count * f.down
        else:
            end = self._phase_pos
        consumed = len(buf) - n_hist
        self._phase_pos = end - consumed * f.up
        if n_hist:
            self._history = buf[consumed:].copy()
        return _to_int16(out)

    def flush(self) -> Int16Array:
        """Return the last ``delay_out_samples`` samples held in the filter, then reset."""
        f = self.filter
        tail = self.process(np.zeros(f.flush_input_samples, dtype=np.float64))
        self.reset()
        return tail[: f.delay_out_samples]


def resample(samples: npt.NDArray[np.int16], *, from_rate: int, to_rate: int) -> Int16Array:
    """One-shot, delay-compensated resampling of a whole int16 signal.

    Returns ``ceil(len(samples) * to_rate / from_rate)`` samples aligned in time with the input.
    """
    rs = StreamingResampler(from_rate=from_rate, to_rate=to_rate)
    body = rs.process(samples)
    tail = rs.flush()
    return np.concatenate((body, tail))[rs.filter.delay_out_samples :]
