"""/api/token: server-assigned identities, room rules, agent dispatch claims, shared key."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from omnivoice_rtc.livekit import names
from omnivoice_rtc.livekit.names import sip_dispatch_room_prefix, sip_outbound_room_name
from omnivoice_rtc.web.token_endpoint import (
    RESERVED_ROOM_PREFIXES,
    TokenRequestError,
    validate_display_name,
    validate_room_name,
)

from .conftest import API_KEY, API_SECRET, LIVEKIT_URL, ClientFactory, make_settings

pytestmark = pytest.mark.unit


def decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, API_SECRET, algorithms=["HS256"], options={"verify_aud": False}
    )
    return claims


async def test_post_without_body_gets_own_room_identity_and_agent(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    response = await client.post("/api/token")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["url"] == LIVEKIT_URL
    assert body["room"].startswith("web-")
    assert body["identity"].startswith("visitor-")
    assert body["agent_name"] == "omnivoice-agent"
    assert body["expires_in_s"] == 600

    claims = decode(body["token"])
    assert claims["iss"] == API_KEY
    assert claims["sub"] == body["identity"]
    assert claims["exp"] - claims["nbf"] == 600
    video = claims["video"]
    assert video["roomJoin"] is True
    assert video["room"] == body["room"]
    assert video["canSubscribe"] is True
    assert video["canPublishSources"] == ["microphone"]
    for admin_grant in ("roomAdmin", "roomCreate", "roomList", "roomRecord", "agent"):
        assert not video.get(admin_grant)
    assert claims["roomConfig"]["agents"] == [{"agentName": "omnivoice-agent"}]


async def test_identity_and_room_are_fresh_for_every_request(make_client: ClientFactory) -> None:
    client = await make_client()
    bodies = [await (await client.post("/api/token")).json() for _ in range(20)]
    assert len({b["identity"] for b in bodies}) == 20
    assert len({b["room"] for b in bodies}) == 20


async def test_named_room_shared_but_identities_stay_unique(make_client: ClientFactory) -> None:
    client = await make_client()
    first = await (await client.post("/api/token", json={"room": "demo-1"})).json()
    second = await (await client.get("/api/token", params={"room": "demo-1"})).json()
    assert first["room"] == second["room"] == "demo-1"
    assert first["identity"] != second["identity"]
    assert decode(second["token"])["video"]["room"] == "demo-1"


async def test_display_name_goes_into_token_not_identity(make_client: ClientFactory) -> None:
    client = await make_client()
    body = await (await client.post("/api/token", json={"name": "  Ada  "})).json()
    claims = decode(body["token"])
    assert claims["name"] == "Ada"
    assert claims["sub"] == body["identity"] != "Ada"


async def test_agent_name_comes_from_settings(make_client: ClientFactory) -> None:
    client = await make_client(make_settings(agent_name="support-bot"))
    body = await (await client.post("/api/token")).json()
    assert decode(body["token"])["roomConfig"]["agents"] == [{"agentName": "support-bot"}]


@pytest.mark.parametrize("field", ["identity", "metadata", "agent_name", "grants"])
async def test_caller_cannot_choose_identity_or_other_claims(
    make_client: ClientFactory, field: str
) -> None:
    client = await make_client()
    response = await client.post("/api/token", json={field: "victim"})
    assert response.status == 400
    assert (await response.json())["error"].startswith(f"unknown field(s): {field}")
    response = await client.get("/api/token", params={field: "victim"})
    assert response.status == 400


@pytest.mark.parametrize(
    ("room", "message"),
    [
        ("has space", "room: must be 1-64 characters"),
        ("-leading-dash", "room: must be 1-64 characters"),
        ("x" * 65, "room: must be 1-64 characters"),
        ("naïve", "room: must be 1-64 characters"),
        ("line\nbreak", "room: must be 1-64 characters"),
        ("call-twilio-CA123", "room: the prefix 'call-' is reserved for phone calls"),
        ("SIP-trunk", "room: the prefix 'sip-' is reserved for phone calls"),
        (42, "room: must be a string"),
    ],
)
async def test_bad_room_names_get_400(
    make_client: ClientFactory, room: object, message: str
) -> None:
    client = await make_client()
    response = await client.post("/api/token", json={"room": room})
    assert response.status == 400
    assert response.content_type == "application/json"
    assert (await response.json())["error"].startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        (
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "body: not valid JSON",
        ),
        ({"json": ["room"]}, 400, "body: must be a JSON object"),
        (
            {"data": b"room=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "body: Content-Type must be application/json",
        ),
        ({"json": {"room": "r", "pad": "x" * 5000}}, 413, "body: larger than 4096 bytes"),
        ({"json": {"name": "a" * 65}}, 400, "name: must be at most 64 characters"),
        ({"json": {"name": "bell\x07"}}, 400, "name: must not contain control characters"),
    ],
)
async def test_bad_bodies_get_precise_4xx(
    make_client: ClientFactory, kwargs: dict[str, Any], status: int, message: str
) -> None:
    client = await make_client()
    response = await client.post("/api/token", **kwargs)
    assert response.status == status
    assert (await response.json())["error"] == message


async def test_other_methods_are_refused(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.put("/api/token", json={})
    assert response.status == 405


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": "Basic s3cret-shared-key"},
        {"X-Omnivoice-Key": "s3cret-shared-ke"},
        {"X-Omnivoice-Key": ""},
    ],
)
async def test_shared_key_required_when_configured(
    make_client: ClientFactory, headers: dict[str, str]
) -> None:
    client = await make_client(make_settings(token_key="s3cret-shared-key"))
    response = await client.post("/api/token", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" not in await response.json()


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer s3cret-shared-key"}, {"X-Omnivoice-Key": "s3cret-shared-key"}],
)
async def test_shared_key_accepted_in_either_header(
    make_client: ClientFactory, headers: dict[str, str]
) -> None:
    client = await make_client(make_settings(token_key="s3cret-shared-key"))
    response = await client.post("/api/token", headers=headers)
    assert response.status == 200
    assert decode((await response.json())["token"])["video"]["roomJoin"] is True


async def test_no_key_needed_when_not_configured(make_client: ClientFactory) -> None:
    client = await make_client()
    response = await client.post("/api/token", headers={"Authorization": "Bearer anything"})
    assert response.status == 200


def test_validators_directly() -> None:
    assert validate_room_name("Team.Room_1-a") == "Team.Room_1-a"
    assert validate_display_name("  Grace Hopper ") == "Grace Hopper"
    assert set(RESERVED_ROOM_PREFIXES) == {"call-", "sip-"}
    with pytest.raises(TokenRequestError, match="reserved") as info:
        validate_room_name("Call-x")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("room", "prefix"),
    [
        (names.call_room_name("twilio", "CA123"), "call-"),
        (sip_outbound_room_name(), "sip-"),
        # what livekit-sip names a call's room from each sip/<carrier>.json rule
        *[
            (sip_dispatch_room_prefix(carrier) + "_anonymous_Ab3", "sip-")
            for carrier in ("twilio", "telnyx", "vonage", "plivo")
        ],
    ],
    ids=["call", "sip-out", "sip-twilio", "sip-telnyx", "sip-vonage", "sip-plivo"],  # stable
)
async def test_every_phone_call_room_is_refused(
    make_client: ClientFactory, room: str, prefix: str
) -> None:
    assert RESERVED_ROOM_PREFIXES is names.RESERVED_ROOM_PREFIXES  # one definition
    client = await make_client()
    response = await client.post("/api/token", json={"room": room})
    assert response.status == 400
    assert (await response.json())["error"] == (
        f"room: the prefix {prefix!r} is reserved for phone calls"
    )
