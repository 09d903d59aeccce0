"""LiveKit helpers: names, rooms, tokens, the data topics, the FFI event router."""

from omnivoice_rtc.livekit.names import (
    CALL_ROOM_PREFIX,
    MAX_NAME_LENGTH,
    RESERVED_ROOM_PREFIXES,
    SIP_ROOM_PREFIX,
    is_reserved_room_name,
    validate_identity,
    validate_room_name,
)
from omnivoice_rtc.livekit.rooms import (
    DeleteRetry,
    RoomControl,
    RoomControlLease,
    create_room,
    delete_room,
    lease_room_control,
    list_rooms,
    room_info_from_proto,
)
from omnivoice_rtc.livekit.tokens import (
    DEFAULT_TOKEN_TTL,
    MAX_TOKEN_TTL,
    ApiKeyPair,
    agent_token,
    caller_token,
    client_grants,
    generate_client_token,
    observer_token,
)

__all__ = [
    "CALL_ROOM_PREFIX",
    "DEFAULT_TOKEN_TTL",
    "MAX_NAME_LENGTH",
    "MAX_TOKEN_TTL",
    "RESERVED_ROOM_PREFIXES",
    "SIP_ROOM_PREFIX",
    "ApiKeyPair",
    "DeleteRetry",
    "RoomControl",
    "RoomControlLease",
    "agent_token",
    "caller_token",
    "client_grants",
    "create_room",
    "delete_room",
    "generate_client_token",
    "is_reserved_room_name",
    "lease_room_control",
    "list_rooms",
    "observer_token",
    "room_info_from_proto",
    "validate_identity",
    "validate_room_name",
]
