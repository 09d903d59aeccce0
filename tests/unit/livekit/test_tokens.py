"""Token claims (decoded with pyjwt): client, caller, agent, observer; name validation."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.livekit import (
    generate_client_token,
    validate_identity,
    validate_room_name,
)
from omnivoice_rtc.livekit.tokens import (
    AGENT_TOKEN_TTL,
    CALLER_TOKEN_TTL,
    OBSERVER_TOKEN_TTL,
    agent_token,
    caller_token,
    observer_token,
)
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.native_call_room import NativeCallRoom, NativeMediaOptions
from omnivoice_rtc.shim.rtc_call_room import CallRoomSpec
from omnivoice_rtc.types import LiveKitCredentials, WebRTCConfig

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


# ---------------------------------------------------------------------- every other token


def lifetime(claims: dict[str, Any]) -> int:
    return int(claims["exp"]) - int(claims["nbf"])


def test_caller_token_claims() -> None:
    attributes = {"carrier": "twilio", "call_id": "CA1", "from": "+15550001", "direction": "in"}
    claims = decode(
        caller_token(
            credentials=CREDS,
            room="call-twilio-CA1",
            identity="pstn-twilio-CA1",
            name="+15550001",
            attributes=attributes,
        )
    )
    assert claims["sub"] == "pstn-twilio-CA1"
    assert claims["name"] == "+15550001"
    assert claims["kind"] == "sip"
    assert claims["attributes"] == attributes
    assert claims["video"] == {
        "room": "call-twilio-CA1",
        "roomJoin": True,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
    }
    assert timedelta(minutes=5) == CALLER_TOKEN_TTL
    assert CALLER_TOKEN_TTL.total_seconds() - 1 <= lifetime(claims) <= 5 * 60
    assert "roomConfig" not in claims
    assert "sip" not in claims


def test_caller_token_kind_standard_and_ttl() -> None:
    claims = decode(
        caller_token(
            credentials=CREDS,
            room="call-x-1",
            identity="pstn-x-1",
            kind="standard",
            ttl=timedelta(seconds=30),
        )
    )
    assert claims["kind"] == "standard"
    assert 29 <= lifetime(claims) <= 30
    assert "name" not in claims
    assert "attributes" not in claims


def test_agent_token_claims() -> None:
    claims = decode(
        agent_token(credentials=CREDS, room="demo", identity="omnivoice-agent", name="Agent")
    )
    assert claims["sub"] == "omnivoice-agent"
    assert claims["name"] == "Agent"
    assert claims["kind"] == "agent"
    assert claims["video"] == {
        "room": "demo",
        "roomJoin": True,
        "agent": True,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canUpdateOwnMetadata": True,
    }
    assert timedelta(minutes=10) == AGENT_TOKEN_TTL
    assert AGENT_TOKEN_TTL.total_seconds() - 1 <= lifetime(claims) <= 10 * 60


def test_observer_token_claims() -> None:
    claims = decode(
        observer_token(
            credentials=CREDS, room="sip-twilio-_+1555_x", identity="omnivoice-sip-observer-p"
        )
    )
    assert claims["sub"] == "omnivoice-sip-observer-p"
    assert claims["kind"] == "standard"
    assert claims["video"] == {
        "room": "sip-twilio-_+1555_x",
        "roomJoin": True,
        "hidden": True,
        "canPublish": False,
        "canSubscribe": False,
        "canPublishData": True,
    }
    assert timedelta(minutes=5) == OBSERVER_TOKEN_TTL
    assert OBSERVER_TOKEN_TTL.total_seconds() - 1 <= lifetime(claims) <= 5 * 60
    assert "name" not in claims


@pytest.mark.parametrize("mint", ["caller", "agent", "observer"])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"room": ""}, "room: must not be empty"),
        ({"identity": "a\nb"}, "identity: must not contain control characters"),
        ({"ttl": timedelta(0)}, "ttl: must be between 1 s and 24 h, got 0 s"),
        ({"ttl": timedelta(hours=25)}, "ttl: must be between 1 s and 24 h, got 90000 s"),
    ],
)
def test_every_token_checks_room_identity_and_ttl(
    mint: str, kwargs: dict[str, Any], message: str
) -> None:
    minters: dict[str, Callable[..., str]] = {
        "caller": caller_token,
        "agent": agent_token,
        "observer": observer_token,
    }
    args: dict[str, Any] = {"credentials": CREDS, "room": "r", "identity": "i"}
    args.update(kwargs)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        minters[mint](**args)


@pytest.mark.parametrize("mint", [caller_token, agent_token])
def test_display_names_are_checked(mint: Callable[..., str]) -> None:
    with pytest.raises(ValueError, match=r"^name: must not contain control characters$"):
        mint(credentials=CREDS, room="r", identity="i", name="a\rb")


def test_the_shim_joins_with_a_caller_token() -> None:
    """CallRoomBase (both media backends) mints its caller token here: bounded TTL."""
    attributes = {"carrier": "twilio", "call_id": "CA1", "from": "+15550001"}
    room = NativeCallRoom(
        spec=CallRoomSpec(
            livekit=CREDS,
            room_name="call-twilio-CA1",
            identity="pstn-twilio-CA1",
            attributes=attributes,
            agent_name="a",
            participant_kind="standard",
        ),
        native=NativeMediaOptions(process=NativeMediaProcess(binary="/nonexistent")),
    )
    claims = decode(room._token())
    assert claims["sub"] == "pstn-twilio-CA1"
    assert claims["name"] == "+15550001"
    assert claims["kind"] == "standard"
    assert claims["attributes"] == attributes
    assert claims["video"]["room"] == "call-twilio-CA1"
    assert lifetime(claims) <= CALLER_TOKEN_TTL.total_seconds()


def test_the_in_process_gateway_joins_with_an_agent_token() -> None:
    config = WebRTCConfig(
        livekit=LiveKitCredentials(server_url=CREDS.url, api_key=KEY, api_secret=SECRET),
        agent_identity="agent-7",
        agent_name="omnivoice-agent",
    )
    gateway = LiveKitGateway(config=config)
    gateway._livekit = CREDS  # what start() sets, without building a pipeline
    claims = decode(gateway._agent_token("demo"))
    assert claims["sub"] == "agent-7"
    assert claims["kind"] == "agent"
    assert claims["video"]["agent"] is True
    assert claims["video"]["room"] == "demo"
    assert lifetime(claims) <= AGENT_TOKEN_TTL.total_seconds()
