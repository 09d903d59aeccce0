"""Every access token the project mints: explicit grants, explicit kind, explicit TTL.

A token only gates joining a room (livekit-server refreshes the token of a participant
that is connected), so the lifetimes are short where a process joins right away:

==========================  =========  ==========  ======================================
token                       kind       TTL         grants
==========================  =========  ==========  ======================================
client (browser, CLI)       standard   15 min      join one room; publish microphone only;
                                                   subscribe; data
caller (shim participant)   sip or     5 min       join one room; publish; subscribe; data;
                            standard               the call's attributes
agent (in-process gateway)  agent      10 min      join one room as agent; publish;
                                                   subscribe; data; update own metadata
observer (SIP session)      standard   5 min       join one room hidden; data only (no
                                                   publish, no subscribe)
==========================  =========  ==========  ======================================

None carries room_create, room_admin, room_list, recorder, SIP or agent-admin grants.
Each TTL may be chosen per token between 1 s and 24 h.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal, Protocol

import jwt
from livekit import api

from omnivoice_rtc.livekit.names import validate_identity, validate_room_name
from omnivoice_rtc.settings import LiveKitSettings, environment

__all__ = [
    "AGENT_TOKEN_TTL",
    "CALLER_TOKEN_TTL",
    "DEFAULT_TOKEN_TTL",
    "MAX_TOKEN_TTL",
    "OBSERVER_TOKEN_TTL",
    "ApiKeyPair",
    "agent_grants",
    "agent_token",
    "caller_grants",
    "caller_token",
    "client_grants",
    "generate_client_token",
    "observer_grants",
    "observer_token",
]

DEFAULT_TOKEN_TTL = timedelta(minutes=15)
"""Lifetime of a client (browser) token unless told otherwise."""
CALLER_TOKEN_TTL = timedelta(minutes=5)
"""Lifetime of the shim's caller token: the shim (or omnivoice-media) joins at once."""
AGENT_TOKEN_TTL = timedelta(minutes=10)
"""Lifetime of the in-process gateway's agent token: it joins at once."""
OBSERVER_TOKEN_TTL = timedelta(minutes=5)
"""Lifetime of a SIP session's hidden observer token: it joins at once."""
MAX_TOKEN_TTL = timedelta(hours=24)
"""Longest lifetime any token may be given."""

_MIN_TOKEN_TTL = timedelta(seconds=1)
_MAX_METADATA_BYTES = 64 * 1024
_MAX_DISPLAY_NAME_CHARS = 256

CallerKind = Literal["sip", "standard"]
_Kind = Literal["standard", "sip", "agent"]


class ApiKeyPair(Protocol):
    """Anything with ``api_key`` and ``api_secret`` (LiveKitSettings, LiveKitCredentials)."""

    @property
    def api_key(self) -> str: ...
    @property
    def api_secret(self) -> str: ...


# ---------------------------------------------------------------------- grants


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


def caller_grants(room: str) -> api.VideoGrants:
    """The grants of the shim's caller participant in ``room`` (the phone call's audio)."""
    return api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
    )


def agent_grants(room: str) -> api.VideoGrants:
    """The grants of the in-process gateway's agent in ``room``."""
    return api.VideoGrants(
        room_join=True,
        room=room,
        agent=True,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_update_own_metadata=True,
    )


def observer_grants(room: str) -> api.VideoGrants:
    """The grants of a hidden observer in ``room``: sends control data, hears nothing."""
    return api.VideoGrants(
        room_join=True,
        room=room,
        hidden=True,
        can_publish=False,
        can_subscribe=False,
        can_publish_data=True,
    )


# ---------------------------------------------------------------------- minting


def _check_ttl(ttl: timedelta) -> None:
    if not _MIN_TOKEN_TTL <= ttl <= MAX_TOKEN_TTL:
        raise ValueError(f"ttl: must be between 1 s and 24 h, got {ttl.total_seconds():g} s")


def _check_display_name(name: str, argument: str) -> None:
    if any(not c.isprintable() for c in name):
        raise ValueError(f"{argument}: must not contain control characters")
    if len(name) > _MAX_DISPLAY_NAME_CHARS:
        raise ValueError(
            f"{argument}: must be at most {_MAX_DISPLAY_NAME_CHARS} characters, got {len(name)}"
        )


def _mint(token: api.AccessToken, ttl: timedelta) -> str:
    """Sign ``token`` (identity, grants, kind already set) with a lifetime of at most ``ttl``."""
    token = token.with_ttl(ttl)
    # AccessToken reads the clock twice (nbf, then exp); across a second boundary
    # exp - nbf would exceed the TTL by 1 s. Mint again in that rare case.
    for _ in range(3):
        encoded = token.to_jwt()
        claims = jwt.decode(encoded, options={"verify_signature": False})
        if int(claims["exp"]) - int(claims["nbf"]) <= ttl.total_seconds():
            return encoded
    return encoded


def _base(
    credentials: ApiKeyPair,
    *,
    room: str,
    identity: str,
    ttl: timedelta,
    grants: api.VideoGrants,
    kind: _Kind,
) -> api.AccessToken:
    validate_room_name(room, argument="room")
    validate_identity(identity, argument="identity")
    _check_ttl(ttl)
    return (
        api.AccessToken(credentials.api_key, credentials.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .with_kind(kind)
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
    """A signed JWT that lets ``identity`` join ``room`` for ``ttl`` (:func:`client_grants`).

    ``agent_name``, when set, asks the server to dispatch that agent to the room
    when the participant joins (room configuration in the token). ``credentials``
    default to ``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET`` from the environment.
    Raises ValueError naming the argument for a bad room, identity, TTL, etc.
    """
    validate_room_name(room, argument="room")
    validate_identity(identity, argument="identity")
    _check_display_name(display_name, "display_name")
    _check_ttl(ttl)
    if len(metadata.encode()) > _MAX_METADATA_BYTES:
        raise ValueError(f"metadata: must be at most {_MAX_METADATA_BYTES} bytes")
    if agent_name is not None:
        validate_identity(agent_name, argument="agent_name")
    creds: ApiKeyPair = (
        credentials if credentials is not None else LiveKitSettings.from_env(environment())
    )

    token = _base(
        creds, room=room, identity=identity, ttl=ttl, grants=client_grants(room), kind="standard"
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
    return _mint(token, ttl)


def caller_token(
    *,
    credentials: ApiKeyPair,
    room: str,
    identity: str,
    name: str = "",
    kind: CallerKind = "sip",
    attributes: Mapping[str, str] | None = None,
    ttl: timedelta = CALLER_TOKEN_TTL,
) -> str:
    """The token the shim joins a call room with as the caller (:func:`caller_grants`).

    ``kind`` is ``sip`` (agents treat the participant as a phone caller) or ``standard``;
    ``attributes`` (carrier, call_id, from, to, direction) are set on the participant.
    """
    _check_display_name(name, "name")
    token = _base(
        credentials, room=room, identity=identity, ttl=ttl, grants=caller_grants(room), kind=kind
    )
    if name:
        token = token.with_name(name)
    if attributes:
        token = token.with_attributes(dict(attributes))
    return _mint(token, ttl)


def agent_token(
    *,
    credentials: ApiKeyPair,
    room: str,
    identity: str,
    name: str = "",
    ttl: timedelta = AGENT_TOKEN_TTL,
) -> str:
    """The token the in-process gateway joins ``room`` with as the agent (:func:`agent_grants`)."""
    _check_display_name(name, "name")
    token = _base(
        credentials, room=room, identity=identity, ttl=ttl, grants=agent_grants(room), kind="agent"
    )
    if name:
        token = token.with_name(name)
    return _mint(token, ttl)


def observer_token(
    *,
    credentials: ApiKeyPair,
    room: str,
    identity: str,
    ttl: timedelta = OBSERVER_TOKEN_TTL,
) -> str:
    """The token a SIP session's hidden observer joins ``room`` with (:func:`observer_grants`)."""
    token = _base(
        credentials,
        room=room,
        identity=identity,
        ttl=ttl,
        grants=observer_grants(room),
        kind="standard",
    )
    return _mint(token, ttl)
