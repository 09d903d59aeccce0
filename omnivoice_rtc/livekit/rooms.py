"""Rooms on livekit-server: created with our agent dispatched, listed, deleted.

Two layers over LiveKit's RoomService, one implementation:

* :func:`create_room`, :func:`list_rooms`, :func:`delete_room`, :func:`remove_participant`
  act through a client the caller owns (a ``LiveKitAPI`` or its ``RoomService``) and
  return :class:`~omnivoice_rtc.RoomInfo`.
* :class:`RoomControl` does the same (plus the agent dispatch) through one ``LiveKitAPI``
  that it creates on first use, reuses, and closes in :meth:`RoomControl.aclose`. The
  process's call rooms and SIP gateway share one per event loop and server:
  :func:`lease_room_control` hands out leases on it, and the last lease closed closes it.

Deleting never leaves a room behind because livekit-server was briefly unreachable: a
room (or participant) that is already gone counts as deleted, and transport errors,
timeouts and 5xx answers are retried with exponential back-off (:class:`DeleteRetry`);
a final failure is logged and returned (False), never raised. A delete answered
``unavailable`` ("no response from servers": the room's livekit-server node died, and with
Redis its room stays listed on that node) re-homes the room on a live node with
``CreateRoom`` before the next attempt; livekit-server keeps a room on a node until that
node's stats are 5 s old, so a later attempt then reaches a node that deletes it. Room
names come from :mod:`omnivoice_rtc.livekit.names`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import aiohttp
from livekit import api
from livekit.api.room_service import RoomService

from omnivoice_rtc.livekit.names import validate_identity, validate_room_name
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.types import RoomInfo

__all__ = [
    "DeleteRetry",
    "RoomClient",
    "RoomControl",
    "RoomControlLease",
    "create_room",
    "delete_room",
    "lease_room_control",
    "list_rooms",
    "remove_participant",
    "room_info_from_proto",
]

logger = logging.getLogger(__name__)

RoomClient = api.LiveKitAPI | RoomService
"""A server API client, or its RoomService."""

_REHOMED_EMPTY_TIMEOUT_S: Final = 10
"""A room re-homed only to be deleted is removed by the server this long (s) after, if the
delete that follows never arrives."""
_ROOM_KEY: Final = "omnivoice.pii.room"
"""Log key of a room name: livekit-sip names inbound SIP rooms after the caller's number."""

_RETRYABLE_CODES: Final = frozenset(
    {
        api.TwirpErrorCode.UNAVAILABLE,
        api.TwirpErrorCode.DEADLINE_EXCEEDED,
        api.TwirpErrorCode.RESOURCE_EXHAUSTED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteRetry:
    """How hard a room delete tries when livekit-server cannot be reached.

    ``attempts`` requests in all; the first retry waits ``first_backoff_s`` seconds, each
    next one twice as long, never more than ``max_backoff_s`` seconds. The defaults
    (8 attempts: 0.25 + 0.5 + 1 + 2 + 4 + 4 + 4 s of waiting, plus each request's own
    timeout) ride out a server restart or a server stalled for 20 s; the time is bounded.
    """

    attempts: int = 8
    first_backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: must be >= 1, got {self.attempts}")
        if self.first_backoff_s < 0:
            raise ValueError(f"first_backoff_s: must be >= 0 s, got {self.first_backoff_s}")
        if self.max_backoff_s < self.first_backoff_s:
            raise ValueError(
                f"max_backoff_s: must be >= first_backoff_s ({self.first_backoff_s} s), "
                f"got {self.max_backoff_s}"
            )


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
    departure_timeout_s: int = 0,
    max_participants: int = 0,
    metadata: str = "",
) -> RoomInfo:
    """Create ``room`` (or return it if it exists).

    ``empty_timeout_s``: seconds a room nobody joined is kept (0 = server default);
    ``departure_timeout_s``: seconds a room is kept after the last participant left
    (0 = server default); ``max_participants``: 0 = unlimited.
    """
    validate_room_name(room, argument="room")
    if empty_timeout_s < 0:
        raise ValueError(f"empty_timeout_s: must be >= 0 s, got {empty_timeout_s}")
    if departure_timeout_s < 0:
        raise ValueError(f"departure_timeout_s: must be >= 0 s, got {departure_timeout_s}")
    if max_participants < 0:
        raise ValueError(f"max_participants: must be >= 0, got {max_participants}")
    created = await _service(client).create_room(
        api.CreateRoomRequest(
            name=room,
            empty_timeout=empty_timeout_s,
            departure_timeout=departure_timeout_s,
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


def _retryable(exc: api.TwirpError) -> bool:
    return exc.status >= 500 or exc.status == 429 or exc.code in _RETRYABLE_CODES


async def delete_room(client: RoomClient, room: str, *, retry: DeleteRetry | None = None) -> bool:
    """Delete ``room``, disconnecting everyone in it. True once the room is gone.

    A room that does not exist is gone (True). Transport errors, timeouts and 5xx
    answers are retried as ``retry`` says (default :class:`DeleteRetry`). Returns False,
    with a warning logged, when every attempt failed or the server refused the request
    (e.g. a key without room_create); it never raises for either, so it is safe in
    teardown code. Raises ValueError for a bad room name.
    """
    validate_room_name(room, argument="room")
    service = _service(client)
    return await _until_gone(
        lambda: service.delete_room(api.DeleteRoomRequest(room=room)),
        what="room delete",
        gave_up="room delete gave up; the server removes the room when it is empty",
        log_extra={_ROOM_KEY: room},
        retry=retry or DeleteRetry(),
        rehome=lambda: service.create_room(
            api.CreateRoomRequest(name=room, empty_timeout=_REHOMED_EMPTY_TIMEOUT_S)
        ),
    )


async def remove_participant(
    client: RoomClient, room: str, identity: str, *, retry: DeleteRetry | None = None
) -> bool:
    """Remove ``identity`` from ``room`` (livekit-sip hangs up a SIP participant, an agent's
    job ends). True once it is gone (never there counts); retried and never raising like
    :func:`delete_room`."""
    validate_room_name(room, argument="room")
    validate_identity(identity, argument="identity")
    service = _service(client)
    return await _until_gone(
        lambda: service.remove_participant(
            api.RoomParticipantIdentity(room=room, identity=identity)
        ),
        what="participant removal",
        gave_up="participant removal gave up",
        log_extra={_ROOM_KEY: room, "participant": identity},
        retry=retry or DeleteRetry(),
    )


async def _until_gone(
    request: Callable[[], Awaitable[object]],
    *,
    what: str,
    gave_up: str,
    log_extra: dict[str, object],
    retry: DeleteRetry,
    rehome: Callable[[], Awaitable[object]] | None = None,
) -> bool:
    """Send ``request`` until it succeeds or answers not-found (True), the server refuses
    it or every attempt of ``retry`` failed (False, a warning logged). After an
    ``unavailable`` answer, ``rehome`` (if given) runs before the next attempt; its own
    failure only means the next attempt fails the same way."""
    backoff_s = retry.first_backoff_s
    error: Exception | None = None
    for attempt in range(1, retry.attempts + 1):
        try:
            await request()
            return True
        except api.TwirpError as exc:
            if exc.code == api.TwirpErrorCode.NOT_FOUND:
                return True
            if not _retryable(exc):
                logger.warning(
                    f"{what} refused",
                    extra={**log_extra, "status": exc.status, "error": str(exc)},
                )
                return False
            error = exc
            if rehome is not None and exc.code == api.TwirpErrorCode.UNAVAILABLE:
                try:  # the room's node is gone: move the room to a live node first
                    await rehome()
                except (api.TwirpError, aiohttp.ClientError, TimeoutError) as rehome_error:
                    logger.info(
                        f"{what}: room not re-homed",
                        extra={**log_extra, "error": repr(rehome_error)},
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = exc
        if attempt < retry.attempts:
            logger.info(
                f"{what} failed; retrying",
                extra={**log_extra, "attempt": attempt, "retry_in_s": backoff_s},
            )
            await asyncio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, retry.max_backoff_s)
    logger.warning(
        gave_up,
        extra={**log_extra, "attempts": retry.attempts, "error": repr(error)},
    )
    return False


class RoomControl:
    """Rooms on one livekit-server through one ``LiveKitAPI``; see the module docstring.

    The ``LiveKitAPI`` is created on first use, on the running event loop, and reused by
    every call after it; :meth:`aclose` closes it (afterwards every call raises
    RuntimeError). ``request_timeout_s`` bounds each HTTP request (s).
    """

    def __init__(
        self,
        *,
        livekit: LiveKitSettings,
        delete_retry: DeleteRetry | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        if request_timeout_s <= 0:
            raise ValueError(f"request_timeout_s: must be > 0 s, got {request_timeout_s}")
        self._livekit = livekit
        self._delete_retry = delete_retry or DeleteRetry()
        self._request_timeout_s = request_timeout_s
        self._api: api.LiveKitAPI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def livekit(self) -> LiveKitSettings:
        return self._livekit

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def api(self) -> api.LiveKitAPI:
        """The server API client (created on first use; RuntimeError off its event loop)."""
        if self._closed:
            raise RuntimeError("RoomControl: closed")
        loop = asyncio.get_running_loop()
        if self._api is None:
            self._api = api.LiveKitAPI(
                url=self._livekit.http_url,
                api_key=self._livekit.api_key,
                api_secret=self._livekit.api_secret,
                timeout=aiohttp.ClientTimeout(total=self._request_timeout_s),
            )
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("RoomControl: used from another event loop than its LiveKitAPI's")
        return self._api

    async def create_room(
        self,
        room: str,
        *,
        agent_name: str | None = None,
        empty_timeout_s: int = 0,
        departure_timeout_s: int = 0,
        metadata: str = "",
    ) -> RoomInfo:
        """Create ``room`` (or find it) and, when ``agent_name`` is given, dispatch that agent.

        Timeouts in s as in :func:`create_room`. A failed dispatch raises; the room then
        exists and is the caller's to delete. A transport error is tried once more (see
        :meth:`dispatch_agent`); creating a room that exists is harmless.
        """
        if agent_name is not None:
            validate_identity(agent_name, argument="agent_name")
        try:
            info = await create_room(
                self.api,
                room,
                empty_timeout_s=empty_timeout_s,
                departure_timeout_s=departure_timeout_s,
                metadata=metadata,
            )
        except (aiohttp.ClientConnectionError, TimeoutError):
            # the first request after a server restart may find a dead pooled connection
            await asyncio.sleep(self._delete_retry.first_backoff_s)
            info = await create_room(
                self.api,
                room,
                empty_timeout_s=empty_timeout_s,
                departure_timeout_s=departure_timeout_s,
                metadata=metadata,
            )
        if agent_name is not None:
            await self.dispatch_agent(room, agent_name)
        return info

    async def dispatch_agent(self, room: str, agent_name: str, *, metadata: str = "") -> None:
        """Ask livekit-server to send the agent ``agent_name`` into ``room``; the job sees
        ``metadata`` (a fresh agent of a call: the transcript so far, see
        :func:`omnivoice_rtc.calls.liveness.resume_metadata`).

        An explicit dispatch, not ``CreateRoomRequest.agents``: livekit-server 1.13 honours
        the latter only for the first room of a worker session (measured in tests). A
        request that could not connect (a server restarting) is tried once more after
        ``first_backoff_s``; nothing else is retried (a second dispatch = two agents).
        """
        validate_room_name(room, argument="room")
        validate_identity(agent_name, argument="agent_name")
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=metadata
        )
        try:
            await self.api.agent_dispatch.create_dispatch(request)
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(self._delete_retry.first_backoff_s)
            await self.api.agent_dispatch.create_dispatch(request)

    async def remove_participant(self, room: str, identity: str) -> bool:
        """Remove ``identity`` from ``room``; True once it is gone. Retried and never
        raising for server or transport trouble, like :meth:`delete_room`."""
        return await remove_participant(self.api, room, identity, retry=self._delete_retry)

    async def delete_room(self, room: str) -> bool:
        """Delete ``room``; True once it is gone. Never raises for server or transport
        trouble (retried, then logged): see :func:`delete_room`."""
        return await delete_room(self.api, room, retry=self._delete_retry)

    async def participant_identities(self, room: str) -> set[str]:
        """Identities of everyone in ``room``, hidden participants (observers, egress)
        included; empty for a room that does not exist."""
        try:
            listed = await self.api.room.list_participants(api.ListParticipantsRequest(room=room))
        except api.TwirpError as exc:
            if exc.code == api.TwirpErrorCode.NOT_FOUND:
                return set()
            raise
        return {participant.identity for participant in listed.participants}

    async def list_rooms(self, names: Sequence[str] | None = None) -> list[RoomInfo]:
        """Active rooms, all of them or only those named in ``names``."""
        return await list_rooms(self.api, names)

    async def aclose(self) -> None:
        """Close the ``LiveKitAPI`` (if one was opened). Idempotent."""
        self._closed = True
        client, self._api = self._api, None
        if client is not None:
            await client.aclose()


# ---------------------------------------------------------------------- the shared one

_SharedKey = tuple[str, str, str]


@dataclass(slots=True)
class _Shared:
    rooms: RoomControl
    leases: int = 0


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_SharedKey, _Shared]] = (
    weakref.WeakKeyDictionary()
)


class RoomControlLease:
    """One holder's share of the process's :class:`RoomControl` (:func:`lease_room_control`).

    Use :attr:`rooms`; never close it yourself: :meth:`aclose` gives the lease back, and
    the last lease given back closes the shared ``LiveKitAPI``.
    """

    def __init__(
        self, *, shared: _Shared, loop: asyncio.AbstractEventLoop, key: _SharedKey
    ) -> None:
        self._shared = shared
        self._loop = loop
        self._key = key
        self._released = False

    @property
    def rooms(self) -> RoomControl:
        if self._released:
            raise RuntimeError("RoomControlLease: already given back")
        return self._shared.rooms

    async def aclose(self) -> None:
        """Give the lease back (idempotent); the last one closes the shared RoomControl."""
        if self._released:
            return
        self._released = True
        shared = self._shared
        shared.leases -= 1
        if shared.leases > 0:
            return
        per_loop = _SHARED.get(self._loop)
        if per_loop is not None and per_loop.get(self._key) is shared:
            del per_loop[self._key]  # before awaiting: a new lease opens a new one
        await shared.rooms.aclose()


def lease_room_control(livekit: LiveKitSettings) -> RoomControlLease:
    """A lease on the running event loop's shared :class:`RoomControl` for ``livekit``.

    Every holder on one event loop and one server (URL and key) gets the same
    RoomControl, hence one ``LiveKitAPI`` for all of them; it is created on first use and
    closed when the last lease is given back. Must be called on a running event loop.
    """
    loop = asyncio.get_running_loop()
    key: _SharedKey = (livekit.http_url, livekit.api_key, livekit.api_secret)
    per_loop = _SHARED.setdefault(loop, {})
    shared = per_loop.get(key)
    if shared is None:
        shared = per_loop[key] = _Shared(rooms=RoomControl(livekit=livekit))
    shared.leases += 1
    return RoomControlLease(shared=shared, loop=loop, key=key)
