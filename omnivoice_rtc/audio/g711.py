"""G.711 μ-law and A-law codecs by lookup table (numpy), bit-exact with the ITU reference.

The encoders follow the ITU-T G.711 reference as implemented by CPython's ``audioop``:
μ-law encodes the top 14 bits of a 16-bit sample, A-law the top 13 bits. The tables are
built once at import (vectorised numpy, a few milliseconds) and are read-only.

All functions take and return ``bytes``-like objects; 16-bit PCM is signed little-endian
(native order on every platform we ship to is checked at import).
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALAW_DECODE_TABLE",
    "ALAW_ENCODE_TABLE",
    "ULAW_DECODE_TABLE",
    "ULAW_ENCODE_TABLE",
    "alaw_decode",
    "alaw_encode",
    "ulaw_decode",
    "ulaw_encode",
]

if sys.byteorder != "little":  # pragma: no cover - no big-endian target today
    raise ImportError("omnivoice_rtc.audio.g711: only little-endian hosts are supported")

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_CLIP = 8159
_ULAW_BIAS = 0x84


def _all_int16() -> npt.NDArray[np.int32]:
    """Every int16 value, ordered by its uint16 bit pattern (so index == raw 16-bit code)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 2  # 14-bit
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")  # first seg with mag <= end
    quant = (mag >> (np.minimum(seg, 7) + 1)) & 0xF
    code = np.where(seg >= 8, 0x7F, (seg << 4) | quant)
    return (code ^ mask).astype(np.uint8)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    pcm = _all_int16() >> 3  # 13-bit
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    mag = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    shift = np.where(seg < 2, 1, np.minimum(seg, 7))
    quant = (mag >> shift) & 0xF
    code = np.where(seg >= 8, 0x7F, (seg << 4) | quant)
    return (code ^ mask).astype(np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_ulaw_encode()
"""65,536 entries: μ-law byte for each int16 sample, indexed by its uint16 bit pattern."""
ALAW_ENCODE_TABLE: npt.NDArray[np.uint8] = _build_alaw_encode()
"""65,536 entries: A-law byte for each int16 sample, indexed by its uint16 bit pattern."""
ULAW_DECODE_TABLE: npt.NDArray[np.int16] = _build_ulaw_decode()
"""256 entries: int16 sample for each μ-law byte."""
ALAW_DECODE_TABLE: npt.NDArray[np.int16] = _build_alaw_decode()
"""256 entries: int16 sample for each A-law byte."""
for _table in (ULAW_ENCODE_TABLE, ALAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_DECODE_TABLE):
    _table.flags.writeable = False


def _pcm16_codes(pcm: bytes | bytearray | memoryview, what: str) -> npt.NDArray[np.uint16]:
    if len(pcm) % 2:
        raise ValueError(f"{what}: PCM16 input must be an even number of bytes, got {len(pcm)}")
    return np.frombuffer(pcm, dtype=np.uint16)


def ulaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit signed little-endian PCM to μ-law (1 byte per sample)."""
    return bytes(ULAW_ENCODE_TABLE[_pcm16_codes(pcm, "ulaw_encode")].tobytes())


def alaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """Encode 16-bit signed little-endian PCM to A-law (1 byte per sample)."""
    return bytes(ALAW_ENCODE_TABLE[_pcm16_codes(pcm, "alaw_encode")].tobytes())


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Decode μ-law bytes to 16-bit signed little-endian PCM (2 bytes per sample)."""
    return bytes(ULAW_DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)].tobytes())


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """Decode A-law bytes to 16-bit signed little-endian PCM (2 bytes per sample)."""
    return bytes(ALAW_DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)].tobytes())
