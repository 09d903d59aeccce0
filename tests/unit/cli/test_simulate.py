"""``omnivoice-rtc simulate``: arguments, exit statuses, the Telnyx key pair and the
secrets it signs with (the server's own settings)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from omnivoice_rtc import ConfigError
from omnivoice_rtc.cli import build_parser, main
from omnivoice_rtc.cli.simulate import (
    EXIT_AGENT_SILENT,
    EXIT_CHECK_FAILED,
    EXIT_REFUSED,
    exit_status,
)
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.simulate.carrier_call import load_telnyx_key, secrets_from_settings
from omnivoice_rtc.simulate.script import SimulationReport

pytestmark = pytest.mark.unit


def test_the_command_parses_every_route() -> None:
    parser = build_parser()
    for route in ("twilio", "telnyx", "vonage", "plivo", "exotel", "sip"):
        args = parser.parse_args(["simulate", route, "--dtmf", "12#"])
        assert (args.route, args.dtmf, args.wav) == (route, "12#", None)
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "carrier-pigeon"])


def test_exit_status_follows_the_report() -> None:
    assert exit_status(SimulationReport(route="sip", refused="SIP 486 Busy")) == EXIT_REFUSED
    answered = SimulationReport(route="sip", answered=True, agent_joined=True)
    assert exit_status(answered) == EXIT_AGENT_SILENT  # no reply heard
    answered.reply_latency_ms = 900
    assert exit_status(answered) == 0
    answered.problems.append("the agent did not get every DTMF digit")
    assert exit_status(answered) == EXIT_CHECK_FAILED


def test_a_new_telnyx_key_pair_is_written_and_its_public_half_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "telnyx.pem"
    assert main(["simulate", "telnyx", "--new-telnyx-key", str(path)]) == 0
    printed = capsys.readouterr().out
    public = printed.split("TELNYX_PUBLIC_KEY=")[1].split()[0]
    key = load_telnyx_key(path)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert base64.b64decode(public) == raw
    assert path.stat().st_mode & 0o777 == 0o600


def test_secrets_come_from_the_servers_settings() -> None:
    settings = Settings.from_env(
        {
            "TWILIO_AUTH_TOKEN": "tw",
            "PLIVO_AUTH_TOKEN": "pl",
            "VONAGE_SIGNATURE_SECRET": "vs",
            "VONAGE_API_KEY": "vk",
            "EXOTEL_STREAM_USER": "eu",
            "EXOTEL_STREAM_PASSWORD": "ep",
        }
    )
    carriers = dict(settings.carriers)
    assert secrets_from_settings("twilio", carriers, None).twilio_auth_token == "tw"
    assert secrets_from_settings("plivo", carriers, None).plivo_auth_token == "pl"
    vonage = secrets_from_settings("vonage", carriers, None)
    assert (vonage.vonage_signature_secret, vonage.vonage_api_key) == ("vs", "vk")
    exotel = secrets_from_settings("exotel", carriers, None)
    assert (exotel.exotel_user, exotel.exotel_password) == ("eu", "ep")
    with pytest.raises(ConfigError, match=r"^--telnyx-key:"):
        secrets_from_settings(
            "telnyx", dict(Settings.from_env({"TELNYX_PUBLIC_KEY": "x"}).carriers), None
        )
    with pytest.raises(ConfigError, match=r"^TELNYX_PUBLIC_KEY: not set"):
        secrets_from_settings("telnyx", carriers, None)


def test_bad_dtmf_keys_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "twilio", "--dtmf", "12x"]) == 2
    assert "--dtmf" in capsys.readouterr().err
