"""Call recording through LiveKit Egress (docs/calls.md).

Egress (``bin/livekit-egress``, ``scripts/install-egress.sh``) runs beside
livekit-server on the same Redis and writes each recorded audio track of a call as an
Ogg/Opus file under ``OMNIVOICE_RECORDING_DIR``. ``OMNIVOICE_RECORD_CALLS=1`` records
every phone call the agent serves; :class:`~omnivoice_rtc.recording.CallRecorder`
records any room on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import load, var

__all__ = ["RecordingSettings"]


def _directory(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ConfigError(f"{name}: must name a directory")
    return str(Path(value).expanduser().absolute())  # egress runs elsewhere: absolute


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingSettings:
    """Whether every call is recorded, where files go, and the local Egress's ports."""

    record_calls: bool = var(
        "OMNIVOICE_RECORD_CALLS",
        False,
        doc="record every phone call the agent serves (both sides, one audio file per "
        "track) through LiveKit Egress",
        kind=bool,
    )
    directory: str = var(
        "OMNIVOICE_RECORDING_DIR",
        "recordings",
        doc="where Egress writes recordings (made absolute; must be writable by the "
        "Egress process, which runs on this machine)",
        parse=_directory,
    )
    egress_health_port: int = var(
        "OMNIVOICE_EGRESS_HEALTH_PORT",
        7983,
        doc="the local Egress's health check port (omnivoice-rtc dev)",
        kind=int,
        minimum=1,
        maximum=65535,
    )
    egress_template_port: int = var(
        "OMNIVOICE_EGRESS_TEMPLATE_PORT",
        7984,
        doc="the local Egress's (unused) web template port (omnivoice-rtc dev)",
        kind=int,
        minimum=1,
        maximum=65535,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
