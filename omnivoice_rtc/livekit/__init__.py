"""LiveKit helpers: client tokens, room/identity validation and room management."""

from .names import MAX_NAME_LENGTH, validate_identity, validate_room_name
from .rooms import create_room, delete_room, list_rooms, room_info_from_proto
from .tokens import (
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL,
    ApiKeyPair,
    client_grants,
    generate_client_token,
)

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "MAX_NAME_LENGTH",
    "MAX_TOKEN_TTL",
    "ApiKeyPair",
    "client_grants",
    "create_room",
    "delete_room",
    "generate_client_token",
    "list_rooms",
    "room_info_from_proto",
    "validate_identity",
    "validate_room_name",
]
