"""LiveKit helpers: names, rooms, tokens, the data topics, the FFI event router."""

from omnivoice_rtc.livekit.names import MAX_NAME_LENGTH, validate_identity, validate_room_name
from omnivoice_rtc.livekit.rooms import create_room, delete_room, list_rooms, room_info_from_proto
from omnivoice_rtc.livekit.tokens import (
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
