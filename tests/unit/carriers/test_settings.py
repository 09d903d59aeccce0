"""Carrier settings from environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.carriers.settings import (
    PlivoSettings,
    TelnyxSettings,
    TwilioSettings,
    VonageSettings,
)

pytestmark = pytest.mark.unit


def test_defaults_when_unset() -> None:
    twilio = TwilioSettings.from_env({})
    assert twilio.api_base_url == "https://api.twilio.com"
    assert not twilio.is_configured
    with pytest.raises(
        ConfigError, match=r"^TWILIO_ACCOUNT_SID: required for this carrier but not set$"
    ):
        twilio.require()
    assert TelnyxSettings.from_env({}).api_base_url == "https://api.telnyx.com"
    assert VonageSettings.from_env({}).api_base_url == "https://api.nexmo.com"
    assert PlivoSettings.from_env({}).api_base_url == "https://api.plivo.com"


def test_reads_every_variable_and_hides_secrets() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "secret-token",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9999/",
        "TELNYX_API_KEY": "KEY",
        "TELNYX_PUBLIC_KEY": "pub",
        "TELNYX_CONNECTION_ID": "conn",
        "PLIVO_AUTH_ID": "MA1",
        "PLIVO_AUTH_TOKEN": "pt",
    }
    twilio = TwilioSettings.from_env(env).require()
    assert (twilio.account_sid, twilio.auth_token, twilio.api_base_url) == (
        "AC1",
        "secret-token",
        "http://127.0.0.1:9999",
    )
    assert "secret-token" not in repr(twilio)
    telnyx = TelnyxSettings.from_env(env).require()
    assert (telnyx.api_key, telnyx.public_key, telnyx.connection_id) == ("KEY", "pub", "conn")
    assert PlivoSettings.from_env(env).require().auth_id == "MA1"


def test_vonage_private_key_inline_or_path(tmp_path: Path) -> None:
    key_file = tmp_path / "private.key"
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n")
    base = {"VONAGE_APPLICATION_ID": "app", "VONAGE_SIGNATURE_SECRET": "s"}
    from_path = VonageSettings.from_env(
        {**base, "VONAGE_PRIVATE_KEY_PATH": str(key_file)}
    ).require()
    assert from_path.private_key.startswith("-----BEGIN PRIVATE KEY-----\n")
    inline = VonageSettings.from_env({**base, "VONAGE_PRIVATE_KEY": "-----BEGIN-----\\nx"})
    assert inline.private_key == "-----BEGIN-----\nx"
    assert "BEGIN" not in repr(inline)
    with pytest.raises(ConfigError, match=r"^VONAGE_PRIVATE_KEY_PATH: cannot read "):
        VonageSettings.from_env({"VONAGE_PRIVATE_KEY_PATH": str(tmp_path / "missing")})


def test_bad_base_url() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^PLIVO_API_BASE_URL: must be an http/https URL with a host, got 'ftp://x'$",
    ):
        PlivoSettings.from_env({"PLIVO_API_BASE_URL": "ftp://x"})
