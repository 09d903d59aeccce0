"""Client access tokens with safe defaults.

A client token lets one participant join one room, publish its microphone,
subscribe to others and send data (transcripts, events). It never carries
room_create, room_admin, room_list, recorder or agent grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

import jwt
from livekit import api

from omnivoice_rtc.livekit.names import validate_identity, validate_room_name
from omnivoice_rtc.settings import LiveKitSettings, environment

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "MAX_TOKEN_TTL",
    "ApiKeyPair",
    "client_grants",
    "generate_client_token",
]

DEFAULT_TOKEN_TTL = timedelta(minutes=15)
MAX_TOKEN_TTL = timedelta(hours=24)
_MAX_METADATA_BYTES = 64 * 1024


class ApiKeyPair(Protocol):
    """Anything with ``api_key`` and ``api_secret`` (LiveKitSettings, LiveKitCredentials)."""

    @property
    def api_key(self) -> str: ...
    @property
    def api_secret(self) -> str: ...


def client_grants(room: str) -> api.VideoGrants:
    """The grants of a client token for ``room`` (microphone-only publishing)."""
    return api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_publish_sources=["microphone"],
        can_subscribe=True,
        can_publish_data=True,
    )


def generate_client_token(
    room: str,
    identity: str,
    display_name: str = "",
    *,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    agent_name: str | None = None,
    metadata: str = "",
    attributes: Mapping[str, str] | None = None,
    credentials: ApiKeyPair | None = None,
) -> str:
    """A signed JWT that lets ``identity`` join ``room`` for ``ttl``.

    ``agent_name``, when set, asks the server to dispatch that agent to the room
    when the participant joins (room configuration in the token). ``credentials``
    default to ``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET`` from the environment.
    Raises ValueError naming the argument for a bad room, identity, TTL, etc.
    """
    validate_room_name(room, argument="room")
    validate_identity(identity, argument="identity")
    if any(not c.isprintable() for c in display_name):
        raise ValueError("display_name: must not contain control characters")
    if len(display_name) > 256:
        raise ValueError(f"display_name: must be at most 256 characters, got {len(display_name)}")
    if not timedelta(seconds=1) <= ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"ttl: must be between 1 s and 24 h, got {ttl.total_seconds():g} s")
    if len(metadata.encode()) > _MAX_METADATA_BYTES:
        raise ValueError(f"metadata: must be at most {_MAX_METADATA_BYTES} bytes")
    if agent_name is not None:
        validate_identity(agent_name, argument="agent_name")
    creds: ApiKeyPair = (
        credentials if credentials is not None else LiveKitSettings.from_env(environment())
    )

    token = (
        api.AccessToken(creds.api_key, creds.api_secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(client_grants(room))
        .with_kind("standard")
    )
    if display_name:
        token = token.with_name(display_name)
    if metadata:
        token = token.with_metadata(metadata)
    if attributes:
        token = token.with_attributes(dict(attributes))
    if agent_name is not None:
        token = token.with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
        )
    # AccessToken reads the clock twice (nbf, then exp); across a second boundary
    # exp - nbf would exceed the TTL by 1 s. Mint again in that rare case.
    for _ in range(3):
        encoded = token.to_jwt()
        claims = jwt.decode(encoded, options={"verify_signature": False})
        if int(claims["exp"]) - int(claims["nbf"]) <= ttl.total_seconds():
            return encoded
    return encoded
