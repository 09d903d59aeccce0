"""Fail closed: the settings a process refuses to start with.

A process that can be reached from beyond this machine (it listens on a non-loopback
address, or ``OMNIVOICE_PUBLIC_URL`` is set) must not use livekit-server's public dev key
pair, must not hand out room tokens to anyone unless told to (``OMNIVOICE_PUBLIC_TOKENS=1``),
and nothing may talk to a remote LiveKit over plain ``ws://`` (tokens would travel in
clear). Two settings are unsafe by themselves: ``OMNIVOICE_TRUSTED_PROXIES`` that trusts
every address (any client could then pick its own address for the rate limits and caps),
and ``OMNIVOICE_REDIS_URL`` in plain ``redis://`` to another host (stream tokens would
travel in clear). :func:`require_safe` raises :class:`~omnivoice_rtc.ConfigError` naming the setting;
the web server, the worker and ``omnivoice-rtc dev`` exit with status 2 on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Self
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import load, var
from omnivoice_rtc.settings.core import LiveKitSettings, TokenSettings, WebSettings
from omnivoice_rtc.settings.limits import LimitSettings, StateSettings

__all__ = ["ExposureSettings", "Role", "require_safe", "unsafe_settings"]

Role = Literal["web", "worker"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExposureSettings:
    """Explicit opt-ins for an exposed server."""

    public_tokens: bool = var(
        "OMNIVOICE_PUBLIC_TOKENS",
        False,
        doc="1 lets an exposed web server mint room tokens without OMNIVOICE_TOKEN_KEY",
        kind=bool,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


def _exposed_by(web: WebSettings) -> str:
    """Which setting exposes the web server beyond this machine ("" when none does)."""
    if web.public_url:
        return "OMNIVOICE_PUBLIC_URL"
    if web.host not in _LOOPBACK:
        return "OMNIVOICE_WEB_HOST"
    return ""


def unsafe_settings(
    *,
    role: Role,
    livekit: LiveKitSettings,
    web: WebSettings,
    tokens: TokenSettings,
    exposure: ExposureSettings,
    state: StateSettings | None = None,
    limits: LimitSettings | None = None,
) -> list[str]:
    """Every reason to refuse to start, each naming its setting (empty when safe)."""
    problems: list[str] = _unsafe_limits(state or StateSettings(), limits or LimitSettings())
    host = urlsplit(livekit.url).hostname or ""
    if urlsplit(livekit.url).scheme in ("ws", "http") and host not in _LOOPBACK:
        problems.append(
            f"LIVEKIT_URL: plain {urlsplit(livekit.url).scheme}:// to {host} sends tokens in "
            "clear; use wss:// (or https://) for a server beyond this machine"
        )
    exposed = _exposed_by(web) if role == "web" else ""
    remote_livekit = host not in _LOOPBACK
    if livekit.uses_dev_keys and (exposed or remote_livekit):
        why = f"{exposed} exposes this server" if exposed else f"LiveKit is at {host}"
        problems.append(
            "LIVEKIT_API_KEY/LIVEKIT_API_SECRET: the dev key pair (devkey/secret) is public "
            f"and {why}; set your own key pair"
        )
    if exposed and not tokens.key and not exposure.public_tokens:
        problems.append(
            f"OMNIVOICE_TOKEN_KEY: required when {exposed} exposes the web server (anyone "
            "could mint room tokens and dispatch agents); set it, or set "
            "OMNIVOICE_PUBLIC_TOKENS=1 to serve tokens to anyone on purpose"
        )
    return problems


def require_safe(
    *,
    role: Role,
    livekit: LiveKitSettings,
    web: WebSettings,
    tokens: TokenSettings,
    exposure: ExposureSettings,
    state: StateSettings | None = None,
    limits: LimitSettings | None = None,
) -> None:
    """Raise ConfigError with every reason to refuse to start (one per line)."""
    problems = unsafe_settings(
        role=role,
        livekit=livekit,
        web=web,
        tokens=tokens,
        exposure=exposure,
        state=state,
        limits=limits,
    )
    if problems:
        raise ConfigError("\n".join(problems))


def _unsafe_limits(state: StateSettings, limits: LimitSettings) -> list[str]:
    problems: list[str] = []
    everyone = [str(n) for n in limits.ingress.trusted_proxies if n.prefixlen == 0]
    if everyone:
        problems.append(
            f"OMNIVOICE_TRUSTED_PROXIES: {everyone[0]} trusts every address, so any client "
            "could name its own address in X-Forwarded-For (and escape the rate limits and "
            "caps); list only your proxies' addresses"
        )
    redis = urlsplit(state.redis_url)
    if redis.scheme == "redis" and (redis.hostname or "") not in _LOOPBACK:
        problems.append(
            f"OMNIVOICE_REDIS_URL: plain redis:// to {redis.hostname} sends stream tokens in "
            "clear; use rediss:// for a Redis beyond this machine"
        )
    return problems
