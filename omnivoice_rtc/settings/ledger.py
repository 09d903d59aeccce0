"""Settings of the call ledger (where calls are recorded, how long they are kept) and of
the signed outbound webhooks announcing them (docs/ledger.md).

``OMNIVOICE_DATABASE_URL`` unset means an SQLite file in the user's state directory
(``$XDG_STATE_HOME`` or ``~/.local/state``, then ``omnivoice-rtc/calls.db``), the same
for every process of one user (web server, agent worker, ``omnivoice-rtc calls``);
``off`` turns the ledger off. A :class:`LedgerSettings` built in code (not from the
environment) records nothing unless given a URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Self
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings._env import check_url, load, var

__all__ = [
    "DATABASE_OFF",
    "WEBHOOK_EVENT_TYPES",
    "LedgerSettings",
    "WebhookSettings",
    "default_database_url",
]

DATABASE_OFF: Final = "off"
"""``OMNIVOICE_DATABASE_URL=off``: record nothing."""

_SCHEMES: Final = (
    "sqlite",
    "sqlite+aiosqlite",
    "postgresql",
    "postgres",
    "postgresql+asyncpg",
)

WEBHOOK_EVENT_TYPES: Final = ("call.started", "call.answered", "call.ended", "call.turn")
"""Every outbound webhook event type (``call.turn`` is off unless listed)."""
_DEFAULT_EVENTS: Final = ("call.started", "call.answered", "call.ended")


def _database_url(name: str, raw: str) -> str:
    if raw.lower() == DATABASE_OFF:
        return DATABASE_OFF
    scheme = urlsplit(raw).scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"{name}: must be sqlite:///PATH, postgresql://USER:PASSWORD@HOST/DB or off; "
            f"got a {scheme or 'schemeless'} URL"
        )
    if scheme.startswith("sqlite") and not raw.split("://", 1)[1].lstrip("/"):
        raise ConfigError(f"{name}: an sqlite URL needs a file path (sqlite:///calls.db)")
    return raw


def default_database_url(env: Mapping[str, str]) -> str:
    """The SQLite file used when ``OMNIVOICE_DATABASE_URL`` is unset (see the module doc)."""
    state = env.get("XDG_STATE_HOME", "").strip()
    home = env.get("HOME", "").strip()
    if state:
        base = Path(state)
    elif home:
        base = Path(home) / ".local" / "state"
    else:
        base = Path(".omnivoice")
    return f"sqlite:///{(base / 'omnivoice-rtc' / 'calls.db').as_posix()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerSettings:
    """Where calls are recorded and for how long.

    ``database_url`` is ``""`` (or ``off``) when nothing is recorded. ``report_wait_s``
    is how long (s) a call that has ended waits for the agent's final report before its
    record is closed without it (an agent that died). ``retention_days`` > 0 deletes
    records (with transcripts, events and webhook deliveries) older than that.
    """

    database_url: str = var(
        "OMNIVOICE_DATABASE_URL",
        "",
        doc="call ledger database: sqlite:///PATH or postgresql://…; unset = "
        "$XDG_STATE_HOME/omnivoice-rtc/calls.db (~/.local/state/…); off = record nothing",
        parse=_database_url,
        secret=True,
    )
    retention_days: int = var(
        "OMNIVOICE_RETENTION_DAYS",
        0,
        doc="delete call records and transcripts older than this many days; 0 = keep",
        kind=int,
        minimum=0,
        maximum=36500,
    )
    report_wait_s: float = var(
        "OMNIVOICE_LEDGER_REPORT_WAIT_S",
        15.0,
        doc="after a call ends, wait this long for the agent's final report before "
        "closing the record without it (s)",
        kind=float,
        minimum=0,
        maximum=3600,
    )

    @property
    def enabled(self) -> bool:
        return bool(self.database_url) and self.database_url != DATABASE_OFF

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        settings = load(cls, env)
        if not settings.database_url:
            settings = replace(settings, database_url=default_database_url(env))
        return settings


def _urls(name: str, raw: str) -> tuple[str, ...]:
    urls = tuple(part.strip() for part in raw.split(",") if part.strip())
    for url in urls:
        check_url(name, url, ("http", "https"))
    return urls


def _secrets(name: str, raw: str) -> tuple[str, ...]:
    values = tuple(part.strip() for part in raw.split(","))
    if any(not value for value in values):
        raise ConfigError(f"{name}: a secret must not be empty")
    return values


def _events(name: str, raw: str) -> tuple[str, ...]:
    events = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [e for e in events if e not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise ConfigError(
            f"{name}: unknown event {unknown[0]!r}; known: {', '.join(WEBHOOK_EVENT_TYPES)}"
        )
    return events


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSettings:
    """Signed outbound webhooks (``call.started``, ``call.answered``, ``call.ended``,
    optionally ``call.turn``), delivered by the web server from the ledger's outbox.

    ``secrets`` holds one secret for every URL, or one per URL in the same order.
    Retries wait ``backoff_s`` × 2^(attempt-1), at most ``backoff_cap_s`` (s), for up to
    ``max_attempts`` attempts; each attempt may take ``timeout_s`` (s).
    """

    urls: tuple[str, ...] = var(
        "OMNIVOICE_WEBHOOK_URL",
        (),
        doc="where to POST call events: http(s) URLs, comma-separated",
        parse=_urls,
    )
    secrets: tuple[str, ...] = var(
        "OMNIVOICE_WEBHOOK_SECRET",
        (),
        doc="HMAC-SHA256 signing secret: one for all URLs, or one per URL (comma-separated)",
        secret=True,
        parse=_secrets,
    )
    events: tuple[str, ...] = var(
        "OMNIVOICE_WEBHOOK_EVENTS",
        _DEFAULT_EVENTS,
        doc="event types to send, comma-separated (call.started, call.answered, "
        "call.ended, call.turn)",
        parse=_events,
    )
    max_attempts: int = var(
        "OMNIVOICE_WEBHOOK_MAX_ATTEMPTS",
        12,
        doc="delivery attempts per event and URL before it is marked failed",
        kind=int,
        minimum=1,
        maximum=100,
    )
    backoff_s: float = var(
        "OMNIVOICE_WEBHOOK_BACKOFF_S",
        1.0,
        doc="wait before the first retry (s); doubles with every attempt",
        kind=float,
        minimum=0.01,
        maximum=3600,
    )
    backoff_cap_s: float = var(
        "OMNIVOICE_WEBHOOK_BACKOFF_CAP_S",
        600.0,
        doc="longest wait between two attempts (s)",
        kind=float,
        minimum=0.01,
        maximum=86400,
    )
    timeout_s: float = var(
        "OMNIVOICE_WEBHOOK_TIMEOUT_S",
        10.0,
        doc="time one delivery attempt may take (s)",
        kind=float,
        minimum=0.1,
        maximum=300,
    )

    def __post_init__(self) -> None:
        if self.urls and not self.secrets:
            raise ConfigError(
                "OMNIVOICE_WEBHOOK_SECRET: required when OMNIVOICE_WEBHOOK_URL is set "
                "(every webhook is signed)"
            )
        if self.secrets and len(self.secrets) not in (1, len(self.urls)):
            raise ConfigError(
                f"OMNIVOICE_WEBHOOK_SECRET: give one secret, or one per URL "
                f"({len(self.urls)}); got {len(self.secrets)}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def endpoints(self) -> list[tuple[str, str]]:
        """(url, secret) of every endpoint."""
        if not self.urls:
            return []
        if len(self.secrets) == 1:
            return [(url, self.secrets[0]) for url in self.urls]
        return list(zip(self.urls, self.secrets, strict=True))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)
