"""Hold audio, generated (nothing to download or ship): a soft two-note chime, then
quiet, repeated for as long as the caller is on hold.

One cycle is :data:`CYCLE_S` s: a 0.35 s note at 523.25 Hz (C5) and one at 659.25 Hz
(E5), each with 20 ms raised-cosine edges, at about -20 dBFS, then silence. A caller
hears it through the agent's audio on every route (browser, SIP, carrier stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Final

import numpy as np

__all__ = ["CYCLE_S", "HOLD_RATE_HZ", "NOTES_HZ", "hold_cycle_pcm", "hold_frames_pcm"]

HOLD_RATE_HZ: Final = 24000
"""Sample rate of the generated hold audio (Hz)."""
CYCLE_S: Final = 3.0
"""Length of one chime + quiet cycle (s)."""
NOTES_HZ: Final = (523.25, 659.25)
"""The chime's two notes (Hz)."""
_NOTE_S: Final = 0.35
_EDGE_S: Final = 0.02
_AMPLITUDE: Final = 0.1 * 32767  # about -20 dBFS


@cache
def hold_cycle_pcm(sample_rate_hz: int = HOLD_RATE_HZ) -> bytes:
    """One cycle as PCM16 mono little-endian at ``sample_rate_hz`` Hz."""
    total = round(CYCLE_S * sample_rate_hz)
    out = np.zeros(total, dtype=np.float64)
    note_len = round(_NOTE_S * sample_rate_hz)
    edge = round(_EDGE_S * sample_rate_hz)
    envelope = np.ones(note_len)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, edge))
    envelope[:edge] = ramp
    envelope[-edge:] = ramp[::-1]
    t = np.arange(note_len) / sample_rate_hz
    for index, freq in enumerate(NOTES_HZ):
        start = index * note_len
        out[start : start + note_len] = _AMPLITUDE * envelope * np.sin(2 * np.pi * freq * t)
    return out.astype("<i2").tobytes()


def hold_frames_pcm(sample_rate_hz: int = HOLD_RATE_HZ, *, frame_ms: int = 20) -> Iterator[bytes]:
    """Endless ``frame_ms`` frames of hold audio (PCM16 mono at ``sample_rate_hz`` Hz)."""
    cycle = hold_cycle_pcm(sample_rate_hz)
    size = sample_rate_hz * frame_ms // 1000 * 2
    offset = 0
    while True:
        chunk = cycle[offset : offset + size]
        if len(chunk) < size:
            chunk += cycle[: size - len(chunk)]
        offset = (offset + size) % len(cycle)
        yield chunk
