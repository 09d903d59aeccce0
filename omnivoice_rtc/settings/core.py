"""Settings every process needs: LiveKit, the web server, client tokens, logging.

Each field names its environment variable (:func:`~omnivoice_rtc.settings._env.var`);
:meth:`omnivoice_rtc.settings.Settings.from_env` reads them all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc._urls import http_url_of
from omnivoice_rtc.settings._env import check_url, exact, load, var

__all__ = [
    "DEFAULT_AGENT_NAME",
    "DEFAULT_LIVEKIT_API_KEY",
    "DEFAULT_LIVEKIT_API_SECRET",
    "DEFAULT_LIVEKIT_URL",
    "LiveKitSettings",
    "LogSettings",
    "TokenSettings",
    "WebSettings",
    "http_url_of",
]

DEFAULT_LIVEKIT_URL = "ws://127.0.0.1:7880"
DEFAULT_LIVEKIT_API_KEY = "devkey"
# livekit-server's documented dev key pair (`--dev`); never use it on a public server.
DEFAULT_LIVEKIT_API_SECRET = "secret"
DEFAULT_AGENT_NAME = "omnivoice-agent"

_LIVEKIT_SCHEMES = ("ws", "wss", "http", "https")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _livekit_url(name: str, raw: str) -> str:
    return check_url(name, raw, _LIVEKIT_SCHEMES)


def _api_key(name: str, raw: str) -> str:
    if any(c.isspace() or c == ":" for c in raw):
        raise ConfigError(f"{name}: must not contain whitespace or ':'")
    return raw


def _public_url(name: str, raw: str) -> str:
    return check_url(name, raw, ("http", "https"))


def _printable(name: str, raw: str) -> str:
    if any(not c.isprintable() for c in raw):
        raise ConfigError(f"{name}: must not contain control characters")
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitSettings:
    """Where the LiveKit server is and how to sign requests for it."""

    url: str = var(
        "LIVEKIT_URL",
        DEFAULT_LIVEKIT_URL,
        doc="LiveKit server (ws/wss URL) the worker, shim and token endpoint use",
        parse=_livekit_url,
    )
    api_key: str = var(
        "LIVEKIT_API_KEY", DEFAULT_LIVEKIT_API_KEY, doc="LiveKit API key", parse=_api_key
    )
    api_secret: str = var(
        "LIVEKIT_API_SECRET", DEFAULT_LIVEKIT_API_SECRET, doc="LiveKit API secret", secret=True
    )

    @property
    def http_url(self) -> str:
        """The same server as an http/https URL (for the server API)."""
        return http_url_of(self.url)

    @property
    def is_local(self) -> bool:
        """True when the server is on loopback (the dev stack), false for LiveKit Cloud etc."""
        return (urlsplit(self.url).hostname or "") in _LOOPBACK

    @property
    def uses_dev_keys(self) -> bool:
        """True with livekit-server's public dev key pair (``devkey``/``secret``)."""
        return (self.api_key, self.api_secret) == (
            DEFAULT_LIVEKIT_API_KEY,
            DEFAULT_LIVEKIT_API_SECRET,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``."""
        return load(cls, env)


def _routes(name: str, raw: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw.split(",") if s.strip())


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """The HTTP server: bind address, port and the URL the outside world reaches it at."""

    host: str = var("OMNIVOICE_WEB_HOST", "127.0.0.1", doc="web server bind address")
    port: int = var(
        "OMNIVOICE_WEB_PORT", 8080, doc="web server port", kind=int, minimum=1, maximum=65535
    )
    public_url: str = var(
        "OMNIVOICE_PUBLIC_URL",
        "",
        doc="public https base URL carriers reach us at (tunnel/proxy); empty = local",
        parse=_public_url,
    )
    routes: tuple[str, ...] = var(
        "OMNIVOICE_WEB_ROUTES",
        (),
        doc="extra route installers, comma-separated module:function",
        parse=_routes,
    )
    drain_s: float = var(
        "OMNIVOICE_DRAIN_S",
        300.0,
        doc="on SIGTERM: /healthz answers 503 and new calls are refused, live calls may go on "
        "this long, then the rest are hung up over REST (s); 0 = hang up at once",
        kind=float,
        minimum=0,
        maximum=86400,
    )

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash when set, else :attr:`local_url`."""
        return self.public_url.rstrip("/") or self.local_url

    @property
    def is_loopback(self) -> bool:
        """True when the server listens on loopback only."""
        return self.host in _LOOPBACK

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSettings:
    """Client tokens minted by ``/api/token``.

    ``ttl_s`` is the token lifetime in seconds; ``key`` (optional) is a shared key a
    caller must present to ``/api/token`` (empty = endpoint open, fine on loopback).
    """

    ttl_s: int = var(
        "OMNIVOICE_TOKEN_TTL_S",
        900,
        doc="client token lifetime (s)",
        kind=int,
        minimum=10,
        maximum=24 * 3600,
    )
    key: str = var(
        "OMNIVOICE_TOKEN_KEY",
        "",
        doc="if set, /api/token (and /metrics, /calls) require Authorization: Bearer <key>",
        secret=True,
        keep_whitespace=True,
        parse=exact,
    )
    agent_name: str = var(
        "OMNIVOICE_AGENT_NAME",
        DEFAULT_AGENT_NAME,
        doc="name the worker registers under; tokens and dispatch rules dispatch it",
        parse=_printable,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSettings:
    """How every process logs (see :mod:`omnivoice_rtc.logs`)."""

    format: str = var(
        "OMNIVOICE_LOG_FORMAT",
        "plain",
        doc="plain (one line, extra as key=value) or json (JSON lines)",
        choices=("plain", "json"),
    )
    level: str = var(
        "OMNIVOICE_LOG_LEVEL",
        "info",
        doc="debug, info, warning or error",
        choices=("debug", "info", "warning", "error"),
    )
    pii: bool = var(
        "OMNIVOICE_LOG_PII",
        False,
        doc="1 shows phone numbers, digits and transcripts in logs (redacted by default)",
        kind=bool,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
