"""Audio formats, G.711 codecs, the streaming resampler and converters.

The frame path of a call is :class:`StreamConverter` (one per direction); whole buffers go
through :class:`AudioConverter` (Go ``AudioConverter``).
"""

from omnivoice_rtc.audio.converter import (
    AudioConverter,
    StreamConverter,
    compiled_backend_available,
    convert,
)
from omnivoice_rtc.audio.format import SUPPORTED_RATES, AudioEncoding, AudioFormat
from omnivoice_rtc.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from omnivoice_rtc.audio.resampler import (
    PolyphaseFilter,
    StreamingResampler,
    design_filter,
    resample,
)

__all__ = [
    "SUPPORTED_RATES",
    "AudioConverter",
    "AudioEncoding",
    "AudioFormat",
    "PolyphaseFilter",
    "StreamConverter",
    "StreamingResampler",
    "alaw_decode",
    "alaw_encode",
    "compiled_backend_available",
    "convert",
    "design_filter",
    "resample",
    "ulaw_decode",
    "ulaw_encode",
]
