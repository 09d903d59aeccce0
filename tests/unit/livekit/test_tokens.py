"""Client token claims (decoded with pyjwt) and room/identity validation."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import jwt
import pytest

from omnivoice_rtc.livekit import (
    generate_client_token,
    validate_identity,
    validate_room_name,
)
from omnivoice_rtc.settings import LiveKitSettings

pytestmark = pytest.mark.unit

KEY = "APIunit"
SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
CREDS = LiveKitSettings(url="ws://127.0.0.1:7880", api_key=KEY, api_secret=SECRET)


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, SECRET, algorithms=["HS256"], issuer=KEY, options={"require": ["exp", "nbf"]}
    )
    return claims


def test_claims_carry_issuer_subject_name_and_exact_room_scoped_grant() -> None:
    claims = decode(generate_client_token("room-a", "alice", "Alice", credentials=CREDS))
    assert claims["iss"] == KEY
    assert claims["sub"] == "alice"
    assert claims["name"] == "Alice"
    assert claims["kind"] == "standard"
    assert claims["video"] == {
        "room": "room-a",
        "roomJoin": True,
        "canPublish": True,
        "canPublishSources": ["microphone"],
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert "roomConfig" not in claims
    assert "agent" not in claims
    assert "sip" not in claims


@pytest.mark.parametrize("ttl", [timedelta(minutes=15), timedelta(seconds=30), timedelta(hours=2)])
def test_lifetime_is_at_most_the_ttl(ttl: timedelta) -> None:
    claims = decode(generate_client_token("r", "bob", ttl=ttl, credentials=CREDS))
    lifetime = claims["exp"] - claims["nbf"]
    assert 0 < lifetime <= ttl.total_seconds()
    assert lifetime >= ttl.total_seconds() - 1


def test_default_ttl_is_fifteen_minutes() -> None:
    claims = decode(generate_client_token("r", "bob", credentials=CREDS))
    assert claims["exp"] - claims["nbf"] <= 15 * 60


def test_agent_dispatch_goes_into_the_room_configuration() -> None:
    token = generate_client_token("r", "bob", agent_name="omnivoice-agent", credentials=CREDS)
    claims = decode(token)
    assert claims["roomConfig"] == {"agents": [{"agentName": "omnivoice-agent"}]}
    assert "agent" not in claims["video"]


def test_metadata_and_attributes_are_carried() -> None:
    token = generate_client_token(
        "r", "bob", metadata='{"a":1}', attributes={"omnivoice.ingress": "web"}, credentials=CREDS
    )
    claims = decode(token)
    assert claims["metadata"] == '{"a":1}'
    assert claims["attributes"] == {"omnivoice.ingress": "web"}


def test_token_signed_with_another_secret_does_not_verify() -> None:
    token = generate_client_token("r", "bob", credentials=CREDS)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, SECRET + "x", algorithms=["HS256"])


def test_credentials_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    assert decode(generate_client_token("r", "bob"))["iss"] == KEY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"room": ""}, "room: must not be empty"),
        ({"room": "x" * 257}, "room: must be at most 256 characters, got 257"),
        ({"room": "a\nb"}, "room: must not contain control characters"),
        ({"room": "a\x00b"}, "room: must not contain control characters"),
        ({"identity": ""}, "identity: must not be empty"),
        ({"identity": "i" * 300}, "identity: must be at most 256 characters, got 300"),
        ({"identity": "bob\x1b[31m"}, "identity: must not contain control characters"),
        ({"display_name": "Bob\r\n"}, "display_name: must not contain control characters"),
        ({"ttl": timedelta(0)}, "ttl: must be between 1 s and 24 h, got 0 s"),
        ({"ttl": timedelta(days=2)}, "ttl: must be between 1 s and 24 h, got 172800 s"),
        ({"agent_name": ""}, "agent_name: must not be empty"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"room": "room-a", "identity": "alice", "credentials": CREDS}
    args.update(kwargs)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        generate_client_token(**args)


def test_names_of_exactly_256_characters_are_accepted() -> None:
    name = "é" * 256
    assert validate_room_name(name) == name
    assert validate_identity(name) == name
    claims = decode(generate_client_token(name, name, credentials=CREDS))
    assert claims["sub"] == name
    assert claims["video"]["room"] == name


def test_validators_name_the_argument_they_are_told() -> None:
    with pytest.raises(ValueError, match=r"^names: must not be empty$"):
        validate_room_name("", argument="names")
    with pytest.raises(
        ValueError, match=r"^identity: must not contain control characters \(found U\+2028"
    ):
        validate_identity("a\u2028b")
    with pytest.raises(TypeError, match=r"^room: must be a str, got int$"):
        validate_room_name(5)
