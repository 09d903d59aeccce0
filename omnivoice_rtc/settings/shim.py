"""Settings of the carrier media-stream shim and the audio converter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from omnivoice_rtc.settings._env import load, var

__all__ = ["AudioSettings", "ShimSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ShimSettings:
    """Who joins phone calls' rooms and how the shim trusts its front proxy."""

    media: str = var(
        "OMNIVOICE_SHIM_MEDIA",
        "auto",
        doc="native (bin/omnivoice-media), rtc (livekit rtc in the web process) or auto",
        choices=("auto", "native", "rtc"),
    )
    ffi_routing: bool = var(
        "OMNIVOICE_FFI_ROUTING",
        True,
        doc="0 leaves livekit rtc's FFI event delivery as shipped (slower per call)",
        kind=bool,
    )
    trust_forwarded: bool = var(
        "OMNIVOICE_TRUST_FORWARDED",
        False,
        doc="take scheme/host from X-Forwarded-Proto/Host (only behind your own proxy)",
        kind=bool,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioSettings:
    """The audio converter's frame path."""

    backend: str = var(
        "OMNIVOICE_RTC_AUDIO_BACKEND",
        "auto",
        doc="auto, c (the C extension) or numpy",
        choices=("auto", "c", "numpy"),
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
