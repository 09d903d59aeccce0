"""RoomControl against a real livekit-server: create with the agent dispatched (the real
agent worker joins), delete tolerating a room that is gone and a server that is briefly
unreachable (a real TCP hop in front of the real server that drops the first connections),
and one LiveKitAPI shared by two concurrent call rooms.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator

import pytest
from livekit import api, rtc

from omnivoice_rtc.livekit.rooms import DeleteRetry, RoomControl, lease_room_control
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.rtc_call_room import CallRoom, CallRoomSpec, call_room_name
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration

GUARD_S = 30.0  # upper bound only; no test asserts a duration
FAST = DeleteRetry(attempts=5, first_backoff_s=0.05, max_backoff_s=0.2)


def settings(server: LiveKitServer, *, url: str | None = None) -> LiveKitSettings:
    return LiveKitSettings(
        url=url or server.url, api_key=server.api_key, api_secret=server.api_secret
    )


async def room_names(livekit_api: api.LiveKitAPI, name: str) -> list[str]:
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=[name]))
    return [room.name for room in rooms.rooms]


async def test_create_with_dispatch_brings_the_agent(
    livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI, agent_worker: AgentWorker
) -> None:
    name = call_room_name("test", secrets.token_hex(6))
    lease = lease_room_control(settings(livekit_server))
    try:
        info = await lease.rooms.create_room(
            name, agent_name=agent_worker.agent_name, empty_timeout_s=30, departure_timeout_s=5
        )
        assert info.name == name
        dispatches = await livekit_api.agent_dispatch.list_dispatch(room_name=name)
        # livekit-server adds its own dispatch for unnamed workers (agent_name "")
        named = [d.agent_name for d in dispatches if d.agent_name]
        assert named == [agent_worker.agent_name]

        async def agent_joined() -> list[str]:
            while True:
                listed = await livekit_api.room.list_participants(
                    api.ListParticipantsRequest(room=name)
                )
                agents = [
                    p.identity for p in listed.participants if p.kind == api.ParticipantInfo.AGENT
                ]
                if agents:
                    return agents
                await asyncio.sleep(0.2)

        async with asyncio.timeout(GUARD_S):
            assert len(await agent_joined()) == 1

        assert await lease.rooms.delete_room(name) is True
        assert await room_names(livekit_api, name) == []
    finally:
        await lease.aclose()


async def test_delete_tolerates_a_room_that_is_gone(
    livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    rooms = RoomControl(livekit=settings(livekit_server), delete_retry=FAST)
    try:
        never = f"call-test-{secrets.token_hex(6)}"
        assert await rooms.delete_room(never) is True  # never created
        name = f"call-test-{secrets.token_hex(6)}"
        await rooms.create_room(name)
        assert await rooms.delete_room(name) is True
        assert await rooms.delete_room(name) is True  # already deleted
        assert await room_names(livekit_api, name) == []
    finally:
        await rooms.aclose()


class FlakyHop:
    """A TCP hop to the real livekit-server that drops its first ``drop`` connections
    (closed at once, as a restarting server or a lost route would), then forwards."""

    def __init__(self, target_port: int, *, drop: int) -> None:
        self.target_port = target_port
        self.drop = drop
        self.connections = 0
        self.server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self.server is not None:
            await self.server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections <= self.drop:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass  # the other side went away: close ours too
        finally:
            sink.close()


@pytest.fixture
async def flaky_hop(livekit_server: LiveKitServer) -> AsyncIterator[FlakyHop]:
    port = int(livekit_server.http_url.rsplit(":", 1)[1].rstrip("/"))
    hop = FlakyHop(port, drop=2)
    await hop.start()
    try:
        yield hop
    finally:
        await hop.aclose()


async def test_delete_retries_while_the_server_is_unreachable(
    livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI, flaky_hop: FlakyHop
) -> None:
    name = f"call-test-{secrets.token_hex(6)}"
    await livekit_api.room.create_room(api.CreateRoomRequest(name=name))
    through_hop = settings(livekit_server, url=f"ws://127.0.0.1:{flaky_hop.port}")
    rooms = RoomControl(livekit=through_hop, delete_retry=FAST)
    try:
        assert await rooms.delete_room(name) is True
    finally:
        await rooms.aclose()
    assert flaky_hop.connections == 3  # two dropped, the third reached the server
    assert await room_names(livekit_api, name) == []


async def test_delete_gives_up_without_raising_when_nothing_listens(
    livekit_server: LiveKitServer,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    retry = DeleteRetry(attempts=3, first_backoff_s=0.01, max_backoff_s=0.02)
    rooms = RoomControl(
        livekit=settings(livekit_server, url=f"ws://127.0.0.1:{port}"), delete_retry=retry
    )
    try:
        assert await rooms.delete_room("call-test-unreachable") is False
    finally:
        await rooms.aclose()


async def test_two_calls_share_one_livekit_api(
    livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    def call(call_id: str) -> CallRoom:
        return CallRoom(
            spec=CallRoomSpec(
                livekit=settings(livekit_server),
                room_name=call_room_name("twilio", call_id),
                identity=f"pstn-twilio-{call_id}",
                attributes={"carrier": "twilio", "call_id": call_id},
                agent_name="no-such-agent",
            )
        )

    first, second = call("CA" + secrets.token_hex(6)), call("CA" + secrets.token_hex(6))
    try:
        async with asyncio.timeout(GUARD_S):
            await asyncio.gather(first.start(), second.start())
        shared = first.room_control
        assert shared is not None
        assert second.room_control is shared
        assert isinstance(shared.api, api.LiveKitAPI)
        for room in (first, second):
            assert isinstance(room.room, rtc.Room)
            assert await room_names(livekit_api, room.room_name) == [room.room_name]
        async with asyncio.timeout(GUARD_S):
            await first.aclose()
        assert first.room_control is None
        assert second.room_control is shared  # still held by the second call
        assert not shared.closed
        async with asyncio.timeout(GUARD_S):
            await second.aclose()
        assert shared.closed  # the last call gave it back
    finally:
        async with asyncio.timeout(GUARD_S):
            await first.aclose()
            await second.aclose()
    for room in (first, second):
        assert await room_names(livekit_api, room.room_name) == []


async def test_leases_in_other_tasks_reuse_the_same_client(
    livekit_server: LiveKitServer,
) -> None:
    """Leases taken in separate tasks on one loop make their requests on one LiveKitAPI."""
    holder = lease_room_control(settings(livekit_server))
    try:

        async def list_in_task() -> bool:
            lease = lease_room_control(settings(livekit_server))
            try:
                await lease.rooms.list_rooms()
                return lease.rooms.api is holder.rooms.api
            finally:
                await lease.aclose()

        shared = await asyncio.gather(list_in_task(), list_in_task())
        assert list(shared) == [True, True]
        await holder.rooms.list_rooms()
    finally:
        await holder.aclose()
