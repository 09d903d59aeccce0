"""Settings of the shared state store and of every limit that keeps a public server safe.

* :class:`StateSettings`: where one-time tokens, replay caches, counters and the live-call
  registry live (this process's memory, or Redis shared by replicas) (:mod:`omnivoice_rtc.state`);
* :class:`IngressLimits`: trusted proxies, caps on media sockets and calls, webhook rates
  (web server, shim);
* :class:`CallSetupLimits`: stream-token lifetime and quotas, replay windows (shim, carriers);
* :class:`OutboundLimits`: whom ``make_call`` may dial, how many at once, how often (shim, SIP);
* :class:`ControlLimits`: ``say`` commands on ``omnivoice.control`` (agent job).

:class:`LimitSettings` groups the last four (``Settings.limits``); docs/reliability.md
("Security") says which threat each one answers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import load, var

__all__ = [
    "CallSetupLimits",
    "ControlLimits",
    "IPNetwork",
    "IngressLimits",
    "LimitSettings",
    "OutboundLimits",
    "StateSettings",
    "parse_networks",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _redis_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ConfigError(
            f"{name}: must be a redis://host:port[/db], rediss:// or unix:// URL, got "
            f"{parts.scheme or raw!r}"
        )
    return raw


def parse_networks(name: str, raw: str) -> tuple[IPNetwork, ...]:
    """Comma-separated IP addresses or CIDR ranges; ConfigError names ``name``."""
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or CIDR range") from None
    return tuple(networks)


def _prefixes(name: str, raw: str) -> tuple[str, ...]:
    prefixes = tuple(p.strip() for p in raw.split(",") if p.strip())
    for prefix in prefixes:
        if prefix != "*" and any(c.isspace() for c in prefix):
            raise ConfigError(f"{name}: prefix {prefix!r} must not contain spaces")
    return prefixes


def _replica_id(name: str, raw: str) -> str:
    if not raw.isprintable() or len(raw) > 64:
        raise ConfigError(f"{name}: must be at most 64 printable characters")
    return raw


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSettings:
    """Where call-setup state lives (:mod:`omnivoice_rtc.state`)."""

    redis_url: str = var(
        "OMNIVOICE_REDIS_URL",
        "",
        doc="Redis shared by every web/shim replica (redis://host:port/db); empty = this "
        "process's memory",
        parse=_redis_url,
        secret=True,
    )
    max_keys: int = var(
        "OMNIVOICE_STATE_MAX_KEYS",
        200_000,
        doc="in-memory store: most entries of each kind (full: new ones are refused)",
        kind=int,
        minimum=100,
        maximum=10_000_000,
    )
    replica_id: str = var(
        "OMNIVOICE_REPLICA_ID",
        "",
        doc="this process's name in the live-call registry (empty: host-pid-random)",
        parse=_replica_id,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngressLimits:
    """Who a request comes from, and how much one address (and everyone) may open."""

    trusted_proxies: tuple[IPNetwork, ...] = var(
        "OMNIVOICE_TRUSTED_PROXIES",
        (),
        doc="proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For names the client; "
        "empty = the TCP peer is the client",
        parse=parse_networks,
    )
    max_media_sockets: int = var(
        "OMNIVOICE_MAX_MEDIA_SOCKETS",
        1000,
        doc="media WebSockets open at once, all addresses (beyond: close 1013)",
        kind=int,
        minimum=1,
    )
    max_media_sockets_per_address: int = var(
        "OMNIVOICE_MAX_MEDIA_SOCKETS_PER_ADDRESS",
        200,
        doc="media WebSockets open at once from one client address (IPv6: per /64)",
        kind=int,
        minimum=1,
    )
    max_calls: int = var(
        "OMNIVOICE_MAX_CALLS",
        500,
        doc="carrier calls bridged into rooms at once (beyond: close 1013)",
        kind=int,
        minimum=1,
    )
    max_calls_per_address: int = var(
        "OMNIVOICE_MAX_CALLS_PER_ADDRESS",
        200,
        doc="calls bridged at once whose media comes from one client address",
        kind=int,
        minimum=1,
    )
    webhooks_per_min_per_address: int = var(
        "OMNIVOICE_WEBHOOKS_PER_MIN_PER_ADDRESS",
        600,
        doc="carrier webhooks per minute from one client address (beyond: 429)",
        kind=int,
        minimum=1,
    )
    webhooks_per_min_per_account: int = var(
        "OMNIVOICE_WEBHOOKS_PER_MIN_PER_ACCOUNT",
        3000,
        doc="signed carrier webhooks per minute for one carrier account (beyond: 429)",
        kind=int,
        minimum=1,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSetupLimits:
    """One-time stream tokens and the replay caches of call setup."""

    stream_token_ttl_s: float = var(
        "OMNIVOICE_STREAM_TOKEN_TTL_S",
        60.0,
        doc="a stream token's life between the answer webhook and the stream (s)",
        kind=float,
        minimum=5,
        maximum=600,
    )
    max_pending_streams: int = var(
        "OMNIVOICE_MAX_PENDING_STREAMS",
        10_000,
        doc="stream tokens waiting for their stream, all sources (full: new calls get 503, "
        "pending ones stay)",
        kind=int,
        minimum=1,
    )
    max_pending_streams_per_source: int = var(
        "OMNIVOICE_MAX_PENDING_STREAMS_PER_SOURCE",
        500,
        doc="stream tokens waiting for their stream per carrier account / client address",
        kind=int,
        minimum=1,
    )
    answered_call_window_s: float = var(
        "OMNIVOICE_ANSWERED_CALL_WINDOW_S",
        3600.0,
        doc="an answered call id is refused a second token for the call's life and this "
        "long after (s)",
        kind=float,
        minimum=60,
        maximum=7 * 24 * 3600,
    )
    max_call_s: float = var(
        "OMNIVOICE_MAX_CALL_S",
        4 * 3600.0,
        doc="longest call the replay cache plans for; an answered call id is kept this "
        "long if its process dies (s)",
        kind=float,
        minimum=60,
        maximum=7 * 24 * 3600,
    )
    replay_cache_s: float = var(
        "OMNIVOICE_REPLAY_CACHE_S",
        24 * 3600.0,
        doc="how long Plivo nonces, Vonage JWT ids and Telnyx signatures are remembered (s)",
        kind=float,
        minimum=600,
        maximum=30 * 24 * 3600,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundLimits:
    """Toll-fraud guard on every ``make_call`` route (carrier REST and SIP)."""

    allow: tuple[str, ...] = var(
        "OMNIVOICE_OUTBOUND_ALLOW",
        (),
        doc="destination prefixes make_call may dial, comma-separated (+1415,+44); * = any; "
        "empty = no outbound calls",
        parse=_prefixes,
    )
    max_concurrent: int = var(
        "OMNIVOICE_MAX_OUTBOUND_CALLS",
        10,
        doc="outbound calls in progress at once (beyond: LimitError)",
        kind=int,
        minimum=1,
    )
    per_minute: int = var(
        "OMNIVOICE_OUTBOUND_CALLS_PER_MIN",
        20,
        doc="outbound calls placed per minute (beyond: LimitError)",
        kind=int,
        minimum=1,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlLimits:
    """What one session accepts on the ``omnivoice.control`` topic."""

    say_max_chars: int = var(
        "OMNIVOICE_CONTROL_SAY_MAX_CHARS",
        2000,
        doc="longest text of a control 'say' command (characters; longer is refused)",
        kind=int,
        minimum=1,
        maximum=100_000,
    )
    say_per_min: int = var(
        "OMNIVOICE_CONTROL_SAY_PER_MIN",
        30,
        doc="control 'say' commands one session accepts per minute",
        kind=int,
        minimum=1,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitSettings:
    """Every limit, by concern (``Settings.limits``)."""

    ingress: IngressLimits = field(default_factory=IngressLimits)
    call_setup: CallSetupLimits = field(default_factory=CallSetupLimits)
    outbound: OutboundLimits = field(default_factory=OutboundLimits)
    control: ControlLimits = field(default_factory=ControlLimits)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return cls(
            ingress=IngressLimits.from_env(env),
            call_setup=CallSetupLimits.from_env(env),
            outbound=OutboundLimits.from_env(env),
            control=ControlLimits.from_env(env),
        )
