"""Room helpers on LiveKit's RoomService, returning :class:`~omnivoice_rtc.RoomInfo`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from livekit import api
from livekit.api.room_service import RoomService

from omnivoice_rtc.livekit.names import validate_room_name
from omnivoice_rtc.types import RoomInfo

__all__ = ["RoomClient", "create_room", "delete_room", "list_rooms", "room_info_from_proto"]

RoomClient = api.LiveKitAPI | RoomService
"""A server API client, or its RoomService."""


def _service(client: RoomClient) -> RoomService:
    return client.room if isinstance(client, api.LiveKitAPI) else client


def room_info_from_proto(room: api.Room) -> RoomInfo:
    """Convert a LiveKit ``Room`` message (creation time in s/ms) to RoomInfo."""
    if room.creation_time_ms:
        created = datetime.fromtimestamp(room.creation_time_ms / 1000, tz=UTC)
    else:
        created = datetime.fromtimestamp(room.creation_time, tz=UTC)
    return RoomInfo(
        name=room.name,
        participant_count=room.num_participants,
        created_at=created,
        metadata=room.metadata,
    )


async def create_room(
    client: RoomClient,
    room: str,
    *,
    empty_timeout_s: int = 0,
    max_participants: int = 0,
    metadata: str = "",
) -> RoomInfo:
    """Create ``room`` (or return it if it exists).

    ``empty_timeout_s``: seconds an empty room is kept (0 = server default);
    ``max_participants``: 0 = unlimited.
    """
    validate_room_name(room, argument="room")
    if empty_timeout_s < 0:
        raise ValueError(f"empty_timeout_s: must be >= 0 s, got {empty_timeout_s}")
    if max_participants < 0:
        raise ValueError(f"max_participants: must be >= 0, got {max_participants}")
    created = await _service(client).create_room(
        api.CreateRoomRequest(
            name=room,
            empty_timeout=empty_timeout_s,
            max_participants=max_participants,
            metadata=metadata,
        )
    )
    return room_info_from_proto(created)


async def list_rooms(client: RoomClient, names: Sequence[str] | None = None) -> list[RoomInfo]:
    """Active rooms, all of them or only those named in ``names``."""
    wanted = [validate_room_name(name, argument="names") for name in names or ()]
    response = await _service(client).list_rooms(api.ListRoomsRequest(names=wanted))
    return [room_info_from_proto(room) for room in response.rooms]


async def delete_room(client: RoomClient, room: str) -> None:
    """Delete ``room``, disconnecting everyone in it."""
    validate_room_name(room, argument="room")
    await _service(client).delete_room(api.DeleteRoomRequest(room=room))
