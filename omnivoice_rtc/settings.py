"""Environment-driven settings shared by the CLI, the web server and the agent worker.

Only the settings every process needs live here. Feature modules (SIP, carriers,
pipelines) define their own settings dataclasses in their own modules and read
their own environment variables the same way.

Every error is a :class:`~omnivoice_rtc.ConfigError` whose message starts with the
name of the environment variable at fault, e.g.
``OMNIVOICE_WEB_PORT: must be an integer between 1 and 65535, got 'abc'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc._urls import http_url_of

__all__ = [
    "DEFAULT_AGENT_NAME",
    "DEFAULT_LIVEKIT_API_KEY",
    "DEFAULT_LIVEKIT_API_SECRET",
    "DEFAULT_LIVEKIT_URL",
    "LiveKitSettings",
    "Settings",
    "TokenSettings",
    "WebSettings",
    "env_int",
    "env_str",
]

DEFAULT_LIVEKIT_URL = "ws://127.0.0.1:7880"
DEFAULT_LIVEKIT_API_KEY = "devkey"
# livekit-server's documented dev key pair (`--dev`); never use it on a public server.
DEFAULT_LIVEKIT_API_SECRET = "secret"
DEFAULT_AGENT_NAME = "omnivoice-agent"

_LIVEKIT_SCHEMES = ("ws", "wss", "http", "https")


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """Return ``env[name]`` stripped, or ``default`` when unset or blank."""
    value = env.get(name, "").strip()
    return value or default


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    """Return ``env[name]`` as an int in ``[minimum, maximum]``; ConfigError names ``name``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}: must be an integer between {minimum} and {maximum}, got {raw!r}"
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"{name}: must be an integer between {minimum} and {maximum}, got {raw!r}"
        )
    return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigError(f"{name}: must be a {'/'.join(schemes)} URL with a host, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitSettings:
    """Where the LiveKit server is and how to sign requests for it.

    ``url`` is the ws/wss URL clients connect to (``LIVEKIT_URL``).
    """

    url: str = DEFAULT_LIVEKIT_URL
    api_key: str = DEFAULT_LIVEKIT_API_KEY
    api_secret: str = field(default=DEFAULT_LIVEKIT_API_SECRET, repr=False)

    @property
    def http_url(self) -> str:
        """The same server as an http/https URL (for the server API)."""
        return http_url_of(self.url)

    @property
    def is_local(self) -> bool:
        """True when the server is on loopback (the dev stack), false for LiveKit Cloud etc."""
        host = urlsplit(self.url).hostname or ""
        return host in ("127.0.0.1", "localhost", "::1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LiveKitSettings:
        """Read ``LIVEKIT_URL``, ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET``."""
        env = os.environ if env is None else env
        url = _check_url(
            "LIVEKIT_URL", env_str(env, "LIVEKIT_URL", DEFAULT_LIVEKIT_URL), _LIVEKIT_SCHEMES
        )
        api_key = env_str(env, "LIVEKIT_API_KEY", DEFAULT_LIVEKIT_API_KEY)
        api_secret = env_str(env, "LIVEKIT_API_SECRET", DEFAULT_LIVEKIT_API_SECRET)
        if any(c.isspace() or c == ":" for c in api_key):
            raise ConfigError("LIVEKIT_API_KEY: must not contain whitespace or ':'")
        return cls(url=url, api_key=api_key, api_secret=api_secret)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """The HTTP server: bind address, port and the URL the outside world reaches it at."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    """``OMNIVOICE_PUBLIC_URL``: e.g. an https tunnel for carrier webhooks; empty = local."""

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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        """Read ``OMNIVOICE_WEB_HOST``, ``OMNIVOICE_WEB_PORT``, ``OMNIVOICE_PUBLIC_URL``."""
        env = os.environ if env is None else env
        host = env_str(env, "OMNIVOICE_WEB_HOST", "127.0.0.1")
        port = env_int(env, "OMNIVOICE_WEB_PORT", 8080, minimum=1, maximum=65535)
        public_url = env_str(env, "OMNIVOICE_PUBLIC_URL", "")
        if public_url:
            _check_url("OMNIVOICE_PUBLIC_URL", public_url, ("http", "https"))
        return cls(host=host, port=port, public_url=public_url)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenSettings:
    """Client tokens minted by ``/api/token``.

    ``ttl_s`` is the token lifetime in seconds; ``key`` (optional) is a shared key a
    caller must present to ``/api/token`` (empty = endpoint open, fine on loopback).
    """

    ttl_s: int = 900
    key: str = field(default="", repr=False)
    agent_name: str = DEFAULT_AGENT_NAME

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TokenSettings:
        """Read ``OMNIVOICE_TOKEN_TTL_S``, ``OMNIVOICE_TOKEN_KEY``, ``OMNIVOICE_AGENT_NAME``."""
        env = os.environ if env is None else env
        ttl_s = env_int(env, "OMNIVOICE_TOKEN_TTL_S", 900, minimum=10, maximum=24 * 3600)
        key = env.get("OMNIVOICE_TOKEN_KEY", "")
        if key and key.strip() != key:
            raise ConfigError("OMNIVOICE_TOKEN_KEY: must not start or end with whitespace")
        agent_name = env_str(env, "OMNIVOICE_AGENT_NAME", DEFAULT_AGENT_NAME)
        if any(not c.isprintable() for c in agent_name):
            raise ConfigError("OMNIVOICE_AGENT_NAME: must not contain control characters")
        return cls(ttl_s=ttl_s, key=key, agent_name=agent_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """All shared settings; ``Settings.from_env()`` reads and validates them at once."""

    livekit: LiveKitSettings = field(default_factory=LiveKitSettings)
    web: WebSettings = field(default_factory=WebSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)

    @property
    def agent_name(self) -> str:
        return self.tokens.agent_name

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every shared setting from ``env`` (default ``os.environ``)."""
        env = os.environ if env is None else env
        return cls(
            livekit=LiveKitSettings.from_env(env),
            web=WebSettings.from_env(env),
            tokens=TokenSettings.from_env(env),
        )
