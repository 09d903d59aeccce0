"""Detect an answering machine's beep: one steady tone in PCM16 mono audio (no I/O).

A voicemail system ends its greeting with a beep: a single sine between about 400 and
2500 Hz lasting 0.2 s or more. :class:`BeepDetector` cuts the audio into blocks of
:data:`BLOCK_MS` ms, and calls a block tonal when it is loud enough and most of its energy
sits within ±:data:`PEAK_HALF_WIDTH_HZ` Hz of its strongest frequency (speech spreads its
energy over harmonics and formants; a beep does not). Consecutive tonal blocks at the
same frequency (±:data:`SAME_TONE_HZ` Hz) for ``min_ms`` make a beep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["BLOCK_MS", "BeepDetector", "BeepOptions"]

BLOCK_MS = 20
"""Analysis block length (ms)."""
PEAK_HALF_WIDTH_HZ = 100.0
"""Energy within this distance (Hz) of the peak counts as the tone's."""
SAME_TONE_HZ = 60.0
"""Two blocks whose peaks differ by less than this (Hz) continue one tone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BeepOptions:
    """``min_ms``: shortest beep (ms); ``min_hz``/``max_hz``: the tone's range (Hz);
    ``tonality``: least share of a block's energy near its peak (0..1); ``min_dbfs``:
    quietest block considered (dBFS)."""

    min_ms: int = 160
    min_hz: float = 350.0
    max_hz: float = 2600.0
    tonality: float = 0.9
    """A sine keeps ~1.0 through μ-law and Opus; espeak-ng's vowels reach 0.77-0.88 (its
    "Hello?" at 0.7 for 80 ms made a 0.7 threshold hear a beep in a person's answer: a full
    test run on 2026-12-05)."""
    min_dbfs: float = -40.0


class BeepDetector:
    """Feed PCM16 mono samples at ``sample_rate_hz`` Hz; :meth:`feed` returns True once a
    beep has been heard (and keeps returning True)."""

    def __init__(self, *, sample_rate_hz: int, options: BeepOptions | None = None) -> None:
        if sample_rate_hz <= 0:
            raise ValueError("sample_rate_hz must be positive")
        self._rate = sample_rate_hz
        self._opts = options or BeepOptions()
        self._block = max(1, sample_rate_hz * BLOCK_MS // 1000)
        self._window = np.hanning(self._block)
        self._freqs = np.fft.rfftfreq(self._block, d=1.0 / sample_rate_hz)
        self._pending = np.zeros(0, dtype=np.float64)
        self._run_ms = 0
        self._run_hz = 0.0
        self.heard = False
        self.tone_hz = 0.0
        """Frequency (Hz) of the beep once heard."""

    def feed(self, pcm: bytes | npt.NDArray[np.int16]) -> bool:
        """Add samples (little-endian PCM16 bytes or an int16 array)."""
        if self.heard:
            return True
        samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes) else pcm
        self._pending = np.concatenate((self._pending, samples.astype(np.float64) / 32768.0))
        while len(self._pending) >= self._block and not self.heard:
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            self._on_block(block)
        return self.heard

    def _tone_of(self, block: npt.NDArray[np.float64]) -> float | None:
        """The block's tone (Hz), or None when it is quiet or not one tone."""
        rms = float(np.sqrt(np.mean(block * block)))
        if rms <= 0 or 20 * np.log10(rms) < self._opts.min_dbfs:
            return None
        power = np.abs(np.fft.rfft(block * self._window)) ** 2
        total = float(power.sum())
        if total <= 0:
            return None
        peak = int(np.argmax(power))
        peak_hz = float(self._freqs[peak])
        if not self._opts.min_hz <= peak_hz <= self._opts.max_hz:
            return None
        near = np.abs(self._freqs - peak_hz) <= PEAK_HALF_WIDTH_HZ
        if float(power[near].sum()) / total < self._opts.tonality:
            return None
        return peak_hz

    def _on_block(self, block: npt.NDArray[np.float64]) -> None:
        tone = self._tone_of(block)
        if tone is None:
            self._run_ms = 0
            return
        if self._run_ms and abs(tone - self._run_hz) < SAME_TONE_HZ:
            self._run_ms += BLOCK_MS
        else:
            self._run_ms, self._run_hz = BLOCK_MS, tone
        if self._run_ms >= self._opts.min_ms:
            self.heard = True
            self.tone_hz = self._run_hz
