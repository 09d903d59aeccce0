"""The limits section: defaults, parsing, and errors that name the variable."""

from __future__ import annotations

import ipaddress

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc.settings import AgentSettings, Settings
from omnivoice_rtc.settings.limits import (
    CallSetupLimits,
    ControlLimits,
    IngressLimits,
    OutboundLimits,
    StateSettings,
)

pytestmark = pytest.mark.unit


def test_defaults_fail_closed_for_outbound_and_keep_state_in_memory() -> None:
    settings = Settings.from_env({})
    assert settings.state == StateSettings(redis_url="", max_keys=200_000, replica_id="")
    assert settings.limits.outbound == OutboundLimits(allow=(), max_concurrent=10, per_minute=20)
    assert settings.limits.ingress.trusted_proxies == ()
    assert settings.limits.call_setup == CallSetupLimits()
    assert AgentSettings.from_env({}).control == ControlLimits(say_max_chars=2000, say_per_min=30)


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "OMNIVOICE_REDIS_URL": "redis://127.0.0.1:6379/2",
            "OMNIVOICE_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1",
            "OMNIVOICE_OUTBOUND_ALLOW": "+1415, +44",
            "OMNIVOICE_MAX_CALLS": "40",
            "OMNIVOICE_CONTROL_SAY_PER_MIN": "5",
            "OMNIVOICE_STREAM_TOKEN_TTL_S": "30",
        }
    )
    assert settings.state.redis_url == "redis://127.0.0.1:6379/2"
    assert settings.limits.ingress == IngressLimits(
        trusted_proxies=(
            ipaddress.ip_network("10.0.0.0/8"),
            ipaddress.ip_network("2001:db8::1/128"),
        ),
        max_calls=40,
    )
    assert settings.limits.outbound.allow == ("+1415", "+44")
    assert settings.limits.control.say_per_min == 5
    assert settings.limits.call_setup.stream_token_ttl_s == 30.0
    assert "redis://" not in repr(settings.state)  # a URL may hold a password


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OMNIVOICE_TRUSTED_PROXIES": "proxy.example.com"},
            "OMNIVOICE_TRUSTED_PROXIES: 'proxy.example.com' is not an IP address or CIDR range",
        ),
        (
            {"OMNIVOICE_REDIS_URL": "http://x"},
            "OMNIVOICE_REDIS_URL: must be a redis://host:port[/db], rediss:// or unix:// URL",
        ),
        ({"OMNIVOICE_MAX_CALLS": "0"}, "OMNIVOICE_MAX_CALLS: must be an integer >= 1, got 0"),
        (
            {"OMNIVOICE_STREAM_TOKEN_TTL_S": "1"},
            "OMNIVOICE_STREAM_TOKEN_TTL_S: must be a number between 5 and 600",
        ),
        (
            {"OMNIVOICE_OUTBOUND_ALLOW": "+1 415"},
            "OMNIVOICE_OUTBOUND_ALLOW: prefix '+1 415' must not contain spaces",
        ),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert str(info.value).startswith(message)
