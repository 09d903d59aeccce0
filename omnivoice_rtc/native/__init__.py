"""The native media participant: ``bin/omnivoice-media`` (Go, native/omnivoice-media/).

It joins call rooms for the carrier shim and does the per-packet media work there: caller
audio at 8 kHz is published as G.711 μ-law (the SFU forwards it as is, so nothing encodes
Opus per call) and the agent's Opus track is decoded straight to the carrier's rate.
:class:`NativeMediaProcess` owns the process; :mod:`.wire` is the framing spoken with it.
"""

from omnivoice_rtc.native.process import MEDIA_BINARY, NativeMediaProcess

__all__ = ["MEDIA_BINARY", "NativeMediaProcess"]
