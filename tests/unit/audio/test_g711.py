"""G.711 tables are bit-exact with CPython's audioop (the ITU reference) on every code."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from types import ModuleType

import numpy as np
import pytest

from omnivoice_rtc.audio import g711
from tests.conftest import require

pytestmark = pytest.mark.unit


def _audioop() -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module("audioop")
    except ImportError:
        require(False, "audioop (Python <= 3.12) as the G.711 reference")
        raise


ALL_CODES = bytes(range(256))
ALL_PCM16 = np.arange(65536, dtype=np.uint16).tobytes()  # every 16-bit pattern


def test_ulaw_decode_all_256_codes_match_audioop() -> None:
    assert g711.ulaw_decode(ALL_CODES) == _audioop().ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_all_256_codes_match_audioop() -> None:
    assert g711.alaw_decode(ALL_CODES) == _audioop().alaw2lin(ALL_CODES, 2)


def test_ulaw_encode_all_65536_inputs_match_audioop() -> None:
    assert g711.ulaw_encode(ALL_PCM16) == _audioop().lin2ulaw(ALL_PCM16, 2)


def test_alaw_encode_all_65536_inputs_match_audioop() -> None:
    assert g711.alaw_encode(ALL_PCM16) == _audioop().lin2alaw(ALL_PCM16, 2)


def test_decode_then_encode_is_identity_on_codes() -> None:
    # every μ-law code except 0x7F (-0, which encodes as 0xFF) round-trips
    ulaw = g711.ulaw_encode(g711.ulaw_decode(ALL_CODES))
    assert [c for c in range(256) if ulaw[c] != c] == [0x7F]
    assert g711.alaw_encode(g711.alaw_decode(ALL_CODES)) == ALL_CODES


def test_tables_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        g711.ULAW_ENCODE_TABLE[0] = 0


@pytest.mark.parametrize("encode", [g711.ulaw_encode, g711.alaw_encode])
def test_encode_rejects_odd_byte_length(encode: object) -> None:
    assert callable(encode)
    with pytest.raises(ValueError, match=r"PCM16 input must be an even number of bytes, got 3"):
        encode(b"\x00\x01\x02")


def test_package_does_not_import_audioop() -> None:
    code = (
        "import sys, omnivoice_rtc, omnivoice_rtc.audio, omnivoice_rtc.audio.converter;"
        "print('audioop' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
