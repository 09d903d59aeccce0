"""Carrier settings from environment variables, one frozen dataclass per carrier.

Every ``from_env`` reads only its carrier's variables and never fails on missing ones:
``is_configured`` says whether the carrier can be used, and ``require()`` raises a
ConfigError naming the first missing variable. ``*_API_BASE_URL`` points the REST client
elsewhere (tests use loopback fakes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.carriers import plivo, telnyx, twilio, vonage

__all__ = ["PlivoSettings", "TelnyxSettings", "TwilioSettings", "VonageSettings"]


def _get(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    value = _get(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}: must be an http/https URL with a host, got {value!r}")
    return value.rstrip("/")


class _Required:
    """Mixin: ``_required`` maps field name → environment variable name."""

    _required: tuple[tuple[str, str], ...] = ()

    @property
    def is_configured(self) -> bool:
        return all(getattr(self, attr) for attr, _ in self._required)

    def require(self) -> Self:
        """Return self, or raise ConfigError naming the first missing variable."""
        for attr, env_name in self._required:
            if not getattr(self, attr):
                raise ConfigError(f"{env_name}: required for this carrier but not set")
        return self


@dataclass(frozen=True, slots=True, kw_only=True)
class TwilioSettings(_Required):
    """``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN`` (REST + X-Twilio-Signature key),
    ``TWILIO_FROM_NUMBER`` (caller id for make_call), ``TWILIO_API_BASE_URL``."""

    account_sid: str = ""
    auth_token: str = field(default="", repr=False)
    from_number: str = ""
    api_base_url: str = twilio.DEFAULT_API_BASE_URL
    _required = (("account_sid", "TWILIO_ACCOUNT_SID"), ("auth_token", "TWILIO_AUTH_TOKEN"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        return cls(
            account_sid=_get(env, "TWILIO_ACCOUNT_SID"),
            auth_token=_get(env, "TWILIO_AUTH_TOKEN"),
            from_number=_get(env, "TWILIO_FROM_NUMBER"),
            api_base_url=_base_url(env, "TWILIO_API_BASE_URL", twilio.DEFAULT_API_BASE_URL),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TelnyxSettings(_Required):
    """``TELNYX_API_KEY`` (REST), ``TELNYX_PUBLIC_KEY`` (Base64 Ed25519 webhook key),
    ``TELNYX_CONNECTION_ID`` (Call Control App id for dialing), ``TELNYX_FROM_NUMBER``,
    ``TELNYX_API_BASE_URL``."""

    api_key: str = field(default="", repr=False)
    public_key: str = ""
    connection_id: str = ""
    from_number: str = ""
    api_base_url: str = telnyx.DEFAULT_API_BASE_URL
    _required = (("api_key", "TELNYX_API_KEY"), ("public_key", "TELNYX_PUBLIC_KEY"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        return cls(
            api_key=_get(env, "TELNYX_API_KEY"),
            public_key=_get(env, "TELNYX_PUBLIC_KEY"),
            connection_id=_get(env, "TELNYX_CONNECTION_ID"),
            from_number=_get(env, "TELNYX_FROM_NUMBER"),
            api_base_url=_base_url(env, "TELNYX_API_BASE_URL", telnyx.DEFAULT_API_BASE_URL),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class VonageSettings(_Required):
    """``VONAGE_APPLICATION_ID`` and ``VONAGE_PRIVATE_KEY`` (PEM text) or
    ``VONAGE_PRIVATE_KEY_PATH`` (REST, RS256), ``VONAGE_SIGNATURE_SECRET`` (signed
    webhooks, HS256), ``VONAGE_API_KEY``, ``VONAGE_FROM_NUMBER``, ``VONAGE_API_BASE_URL``."""

    application_id: str = ""
    private_key: str = field(default="", repr=False)
    signature_secret: str = field(default="", repr=False)
    api_key: str = ""
    from_number: str = ""
    api_base_url: str = vonage.DEFAULT_API_BASE_URL
    _required = (
        ("application_id", "VONAGE_APPLICATION_ID"),
        ("private_key", "VONAGE_PRIVATE_KEY"),
        ("signature_secret", "VONAGE_SIGNATURE_SECRET"),
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        key = _get(env, "VONAGE_PRIVATE_KEY").replace("\\n", "\n")
        key_path = _get(env, "VONAGE_PRIVATE_KEY_PATH")
        if not key and key_path:
            try:
                key = Path(key_path).read_text()
            except OSError as exc:
                raise ConfigError(
                    f"VONAGE_PRIVATE_KEY_PATH: cannot read {key_path!r}: {exc.strerror}"
                ) from None
        return cls(
            application_id=_get(env, "VONAGE_APPLICATION_ID"),
            private_key=key,
            signature_secret=_get(env, "VONAGE_SIGNATURE_SECRET"),
            api_key=_get(env, "VONAGE_API_KEY"),
            from_number=_get(env, "VONAGE_FROM_NUMBER"),
            api_base_url=_base_url(env, "VONAGE_API_BASE_URL", vonage.DEFAULT_API_BASE_URL),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PlivoSettings(_Required):
    """``PLIVO_AUTH_ID``, ``PLIVO_AUTH_TOKEN`` (REST + V3 signature key),
    ``PLIVO_FROM_NUMBER``, ``PLIVO_API_BASE_URL``."""

    auth_id: str = ""
    auth_token: str = field(default="", repr=False)
    from_number: str = ""
    api_base_url: str = plivo.DEFAULT_API_BASE_URL
    _required = (("auth_id", "PLIVO_AUTH_ID"), ("auth_token", "PLIVO_AUTH_TOKEN"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        env = os.environ if env is None else env
        return cls(
            auth_id=_get(env, "PLIVO_AUTH_ID"),
            auth_token=_get(env, "PLIVO_AUTH_TOKEN"),
            from_number=_get(env, "PLIVO_FROM_NUMBER"),
            api_base_url=_base_url(env, "PLIVO_API_BASE_URL", plivo.DEFAULT_API_BASE_URL),
        )
