"""What the supervisor runs: process specs, health checks and ports.

All values are frozen dataclasses so a plan can be built once, printed and reused
(``omnivoice-rtc dev`` and the pytest fixture build the same specs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "HealthCheck",
    "HttpCheck",
    "LogCheck",
    "PortUse",
    "ProcessSpec",
    "StackExtension",
    "TcpCheck",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheck:
    """Healthy when ``GET url`` answers with a status in [200, 400)."""

    url: str

    def describe(self) -> str:
        return f"GET {self.url}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCheck:
    """Healthy when a TCP connection to ``host:port`` succeeds."""

    port: int
    host: str = "127.0.0.1"

    def describe(self) -> str:
        return f"tcp {self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LogCheck:
    """Healthy once a log line matches the regular expression ``pattern`` (re.search)."""

    pattern: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern: invalid regular expression: {exc}") from None

    def describe(self) -> str:
        return f"log line matching {self.pattern!r}"


HealthCheck = HttpCheck | TcpCheck | LogCheck


@dataclass(frozen=True, slots=True, kw_only=True)
class PortUse:
    """A port the process will bind; checked free before the process starts."""

    port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    host: str = "127.0.0.1"
    purpose: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port: must be between 1 and 65535, got {self.port}")
        if self.protocol not in ("tcp", "udp"):
            raise ValueError(f"protocol: must be 'tcp' or 'udp', got {self.protocol!r}")

    def describe(self) -> str:
        what = f" ({self.purpose})" if self.purpose else ""
        return f"{self.protocol} {self.host}:{self.port}{what}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessSpec:
    """One process of the stack.

    ``env`` is added on top of the supervisor's environment. ``health`` is polled
    until it passes or ``start_timeout_s`` (seconds) runs out; ``None`` means
    "started" as soon as the process is running. A log line matching
    ``fail_pattern`` fails the start at once (e.g. ``address already in use``).
    ``stop_timeout_s`` (seconds) is the grace between SIGTERM and SIGKILL.
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    health: HealthCheck | None = None
    start_timeout_s: float = 30.0
    stop_timeout_s: float = 5.0
    fail_pattern: str | None = None
    ports: tuple[PortUse, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or any(not c.isprintable() or c.isspace() for c in self.name):
            raise ValueError(f"name: must be a non-empty word without spaces, got {self.name!r}")
        if not self.argv:
            raise ValueError("argv: must not be empty")
        if self.start_timeout_s <= 0:
            raise ValueError(f"start_timeout_s: must be > 0 s, got {self.start_timeout_s}")
        if self.stop_timeout_s <= 0:
            raise ValueError(f"stop_timeout_s: must be > 0 s, got {self.stop_timeout_s}")
        if self.fail_pattern is not None:
            try:
                re.compile(self.fail_pattern)
            except re.error as exc:
                raise ValueError(f"fail_pattern: invalid regular expression: {exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class StackExtension:
    """Processes a feature adds around livekit-server (e.g. SIP: redis, livekit-sip).

    ``before_livekit`` start before livekit-server (redis), ``after_livekit`` after it
    (livekit-sip). ``redis_host`` (``host:port``), when set, is passed to
    livekit-server as ``--redis-host``.
    """

    before_livekit: tuple[ProcessSpec, ...] = ()
    after_livekit: tuple[ProcessSpec, ...] = ()
    redis_host: str | None = None
    urls: Mapping[str, str] = field(default_factory=dict)
    """Extra lines for the ``omnivoice-rtc dev`` banner, e.g. ``{"SIP": "sip:127.0.0.1:5060"}``."""
