"""``omnivoice-rtc token`` and the command's parser (``dev`` runs in tests/integration/stack)."""

from __future__ import annotations

import jwt
import pytest

from omnivoice_rtc.cli import build_parser, main

pytestmark = pytest.mark.unit

KEY, SECRET = "APIcli", "cli-secret-long-enough-for-hs256-signing!"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    monkeypatch.setenv("LIVEKIT_URL", "ws://127.0.0.1:7880")
    monkeypatch.delenv("OMNIVOICE_AGENT_NAME", raising=False)
    monkeypatch.delenv("OMNIVOICE_TOKEN_TTL_S", raising=False)


def test_token_prints_a_room_scoped_token_with_agent_dispatch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token", "lobby", "alice", "--name", "Alice", "--ttl-s", "120"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer=KEY)
    assert claims["sub"] == "alice"
    assert claims["name"] == "Alice"
    assert claims["video"]["room"] == "lobby"
    assert claims["exp"] - claims["nbf"] <= 120
    assert claims["roomConfig"] == {"agents": [{"agentName": "omnivoice-agent"}]}


def test_token_without_agent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "lobby", "alice", "--no-agent"]) == 0
    claims = jwt.decode(capsys.readouterr().out.strip(), SECRET, algorithms=["HS256"])
    assert "roomConfig" not in claims


def test_token_bad_room_exits_2_naming_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "", "alice"]) == 2
    assert capsys.readouterr().err == "omnivoice-rtc token: room: must not be empty\n"


def test_configuration_error_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIVEKIT_URL", "not-a-url")
    assert main(["token", "lobby", "alice"]) == 2
    assert capsys.readouterr().err.startswith(
        "omnivoice-rtc: configuration error: LIVEKIT_URL: must be a ws/wss/http/https URL"
    )


def test_dev_flags_are_parsed_and_ports_validated(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["dev", "--livekit-port", "17880", "--web-port", "18080", "--no-agent", "--no-sip"]
    )
    assert (args.livekit_port, args.rtc_tcp_port, args.rtc_udp_port) == (17880, 7881, 7882)
    assert (args.web_port, args.no_agent, args.no_web, args.no_sip) == (18080, True, False, True)
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["dev", "--livekit-port", "70000"])
    assert caught.value.code == 2
    assert "must be between 1 and 65535, got 70000" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
    assert "COMMAND" in capsys.readouterr().err
