"""Room deletion's retry policy and the shared RoomControl's lifecycle (no server, no sockets).

The delete loop is driven through a stand-in RoomService that fails as told; against a real
livekit-server (and a real unreachable port): tests/integration/livekit/test_room_control.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

import aiohttp
import pytest
from livekit import api
from livekit.api.room_service import RoomService

from omnivoice_rtc.livekit.rooms import (
    DeleteRetry,
    RoomControl,
    RoomControlLease,
    delete_room,
    lease_room_control,
    remove_participant,
)
from omnivoice_rtc.settings import LiveKitSettings

pytestmark = pytest.mark.unit

FAST = DeleteRetry(attempts=4, first_backoff_s=0.001, max_backoff_s=0.002)
SERVER_A = LiveKitSettings(url="ws://127.0.0.1:7880", api_key="A", api_secret="a" * 32)
SERVER_B = LiveKitSettings(url="ws://127.0.0.1:7890", api_key="B", api_secret="b" * 32)


class ScriptedRoomService:
    """Answers delete_room with the next outcome: an exception to raise, or None (success)."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.requests: list[str] = []
        self.created: list[str] = []

    async def create_room(self, request: api.CreateRoomRequest) -> api.Room:
        self.created.append(request.name)
        self.requests.append(f"create {request.name}")
        return api.Room(name=request.name)

    async def delete_room(self, request: api.DeleteRoomRequest) -> api.DeleteRoomResponse:
        self.requests.append(request.room)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return api.DeleteRoomResponse()


def service(*outcomes: BaseException | None) -> ScriptedRoomService:
    return ScriptedRoomService(list(outcomes))


def server_error(code: str, status: int) -> api.TwirpError:
    return api.TwirpError(code, "scripted", status=status)


async def test_delete_succeeds_first_time() -> None:
    rooms = service(None)
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert rooms.requests == ["call-x-1"]


async def test_a_room_already_gone_is_deleted() -> None:
    rooms = service(server_error(api.TwirpErrorCode.NOT_FOUND, 404))
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert rooms.requests == ["call-x-1"]


@pytest.mark.parametrize(
    "failure",
    [
        aiohttp.ClientConnectionError("connection refused"),
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        server_error(api.TwirpErrorCode.UNAVAILABLE, 503),
        server_error(api.TwirpErrorCode.INTERNAL, 500),
        server_error(api.TwirpErrorCode.RESOURCE_EXHAUSTED, 429),
    ],
    ids=["refused", "disconnected", "timeout", "503", "500", "429"],
)
async def test_transport_errors_and_5xx_are_retried_until_the_delete_succeeds(
    failure: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="omnivoice_rtc.livekit.rooms")
    rooms = service(failure, failure, None)
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert [r for r in rooms.requests if not r.startswith("create")] == ["call-x-1"] * 3
    assert [r.getMessage() for r in caplog.records if r.levelname == "INFO"] == [
        "room delete failed; retrying"
    ] * 2


async def test_a_room_whose_node_stopped_answering_is_rehomed_before_the_next_delete() -> None:
    # livekit-server answers 503 "no response from servers" while the room's node is dead;
    # CreateRoom moves the room to a live node, then the delete reaches it
    unavailable = server_error(api.TwirpErrorCode.UNAVAILABLE, 503)
    rooms = service(unavailable, None)
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert rooms.requests == ["call-x-1", "create call-x-1", "call-x-1"]


async def test_other_server_errors_do_not_rehome_the_room() -> None:
    rooms = service(server_error(api.TwirpErrorCode.INTERNAL, 500), None)
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert rooms.created == []


async def test_a_retried_delete_that_finds_the_room_gone_succeeds() -> None:
    failure = aiohttp.ClientConnectionError("reset")
    rooms = service(failure, server_error(api.TwirpErrorCode.NOT_FOUND, 404))
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is True
    assert len(rooms.requests) == 2


async def test_gives_up_after_the_last_attempt_without_raising(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = aiohttp.ClientConnectionError("refused")
    rooms = service(*[failure] * FAST.attempts)
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is False
    assert len(rooms.requests) == FAST.attempts
    warnings = [
        r for r in caplog.records if r.levelname == "WARNING" and r.name.endswith("livekit.rooms")
    ]
    assert [r.getMessage() for r in warnings] == [
        "room delete gave up; the server removes the room when it is empty"
    ]
    assert warnings[0].__dict__["omnivoice.pii.room"] == "call-x-1"
    assert warnings[0].__dict__["attempts"] == FAST.attempts


@pytest.mark.parametrize(
    ("code", "status"),
    [(api.TwirpErrorCode.PERMISSION_DENIED, 403), (api.TwirpErrorCode.UNAUTHENTICATED, 401)],
)
async def test_a_refusal_is_not_retried(code: str, status: int) -> None:
    rooms = service(server_error(code, status))
    assert await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST) is False
    assert rooms.requests == ["call-x-1"]


async def test_cancellation_is_not_swallowed() -> None:
    rooms = service(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await delete_room(cast(RoomService, rooms), "call-x-1", retry=FAST)


async def test_a_bad_name_is_refused_before_any_request() -> None:
    rooms = service()
    with pytest.raises(ValueError, match=r"^room: must not be empty$"):
        await delete_room(cast(RoomService, rooms), "", retry=FAST)
    assert rooms.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "attempts: must be >= 1, got 0"),
        ({"first_backoff_s": -1.0}, "first_backoff_s: must be >= 0 s, got -1.0"),
        (
            {"first_backoff_s": 2.0, "max_backoff_s": 1.0},
            "max_backoff_s: must be >= first_backoff_s (2.0 s), got 1.0",
        ),
    ],
)
def test_delete_retry_is_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        DeleteRetry(**kwargs)


# ---------------------------------------------------------------------- RoomControl


def test_no_livekit_api_outside_an_event_loop() -> None:
    rooms = RoomControl(livekit=SERVER_A)
    with pytest.raises(RuntimeError, match="no running event loop"):
        _ = rooms.api


async def test_one_livekit_api_created_on_first_use_and_reused() -> None:
    rooms = RoomControl(livekit=SERVER_A)
    try:
        first = rooms.api
        assert rooms.api is first
    finally:
        await rooms.aclose()
    assert rooms.closed
    with pytest.raises(RuntimeError, match=r"^RoomControl: closed$"):
        _ = rooms.api
    await rooms.aclose()  # idempotent


def test_request_timeout_is_validated() -> None:
    with pytest.raises(ValueError, match=r"^request_timeout_s: must be > 0 s, got 0$"):
        RoomControl(livekit=SERVER_A, request_timeout_s=0)


async def test_leases_share_one_room_control_and_one_livekit_api() -> None:
    first, second = lease_room_control(SERVER_A), lease_room_control(SERVER_A)
    other = lease_room_control(SERVER_B)
    try:
        assert first.rooms is second.rooms
        assert first.rooms.api is second.rooms.api
        assert other.rooms is not first.rooms
        assert other.rooms.livekit == SERVER_B
    finally:
        await other.aclose()
    shared = first.rooms
    await first.aclose()
    await first.aclose()  # idempotent: gives back one lease only
    assert not shared.closed  # the second lease still holds it
    assert second.rooms.api is shared.api
    with pytest.raises(RuntimeError, match="already given back"):
        _ = first.rooms
    await second.aclose()
    assert shared.closed  # the last lease closed it

    again = lease_room_control(SERVER_A)
    try:
        assert again.rooms is not shared  # a new one, opened on first use
        assert not again.rooms.closed
    finally:
        await again.aclose()


def test_each_event_loop_has_its_own() -> None:
    async def lease() -> RoomControlLease:
        return lease_room_control(SERVER_A)

    loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]
    try:
        leases = [loop.run_until_complete(lease()) for loop in loops]
        rooms = [held.rooms for held in leases]
        assert rooms[0] is not rooms[1]  # both held at once, one per loop
        for loop, held in zip(loops, leases, strict=True):
            loop.run_until_complete(held.aclose())
        assert all(r.closed for r in rooms)
    finally:
        for loop in loops:
            loop.close()


# ---------------------------------------------------------------------- participants, dispatch


class ScriptedParticipants:
    """Answers remove_participant with the next outcome (an exception, or None)."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        self.outcomes = outcomes
        self.requests: list[tuple[str, str]] = []

    async def remove_participant(self, request: api.RoomParticipantIdentity) -> object:
        self.requests.append((request.room, request.identity))
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return object()


async def test_removing_a_participant_retries_and_counts_not_found_as_gone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = aiohttp.ClientConnectionError("refused")
    service = ScriptedParticipants([failure, server_error(api.TwirpErrorCode.NOT_FOUND, 404)])
    gone = await remove_participant(cast(RoomService, service), "call-x-1", "agent-1", retry=FAST)
    assert gone is True
    assert service.requests == [("call-x-1", "agent-1")] * 2

    stuck = ScriptedParticipants([failure] * FAST.attempts)
    assert await remove_participant(cast(RoomService, stuck), "call-x-1", "a", retry=FAST) is False
    assert "participant removal gave up" in [r.getMessage() for r in caplog.records]


class _Dispatcher:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[api.CreateAgentDispatchRequest] = []

    async def create_dispatch(self, request: api.CreateAgentDispatchRequest) -> api.AgentDispatch:
        self.requests.append(request)
        if self.failures:
            self.failures -= 1
            raise aiohttp.ClientConnectorError(None, OSError("refused"))  # type: ignore[arg-type]  # reason: no connection key needed
        return api.AgentDispatch()


class _Api:
    def __init__(self, dispatcher: _Dispatcher) -> None:
        self.agent_dispatch = dispatcher


async def test_a_dispatch_carries_its_metadata_and_a_refused_connection_is_tried_once_more() -> (
    None
):
    rooms = RoomControl(livekit=SERVER_A, delete_retry=FAST)
    dispatcher = _Dispatcher(failures=1)
    rooms._api = cast(api.LiveKitAPI, _Api(dispatcher))
    rooms._loop = asyncio.get_running_loop()
    await rooms.dispatch_agent("call-x-1", "agent", metadata='{"omnivoice":{}}')
    assert [(r.room, r.agent_name, r.metadata) for r in dispatcher.requests] == [
        ("call-x-1", "agent", '{"omnivoice":{}}')
    ] * 2
    twice = _Dispatcher(failures=2)
    rooms._api = cast(api.LiveKitAPI, _Api(twice))
    with pytest.raises(aiohttp.ClientConnectorError):  # never a third: it may have landed
        await rooms.dispatch_agent("call-x-1", "agent")
    assert len(twice.requests) == 2
