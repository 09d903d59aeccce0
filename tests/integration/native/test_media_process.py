"""The real omnivoice-media process, spoken to over its Unix socket: bad input on one
connection gets a precise error and closes only that connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from livekit import api

from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.native.wire import MessageKind, decode_json, encode_message, read_message
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def media_socket() -> AsyncIterator[str]:
    process = NativeMediaProcess()
    try:
        yield await process.socket_path()
    finally:
        await process.aclose()


def _join(server: LiveKitServer, token: str, **overrides: object) -> bytes:
    body: dict[str, object] = {
        "url": server.url,
        "token": token,
        "publish_rate_hz": 8000,
        "subscribe_rate_hz": 8000,
        "frame_ms": 20,
        "opus_complexity": 5,
        **overrides,
    }
    return encode_message(MessageKind.JOIN, json.dumps(body).encode())


def _token(server: LiveKitServer, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .to_jwt()
    )


async def _exchange(socket_path: str, *messages: bytes) -> tuple[MessageKind, dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        for message in messages:
            writer.write(message)
        await writer.drain()
        kind, payload = await asyncio.wait_for(read_message(reader), 20)
        return kind, decode_json(payload)
    finally:
        writer.close()


async def test_bad_joins_get_precise_errors(
    media_socket: str, livekit_server: LiveKitServer
) -> None:
    kind, body = await _exchange(media_socket, encode_message(MessageKind.CALLER_AUDIO, b"\0\0"))
    assert (kind, body) == (MessageKind.ERROR, {"error": "first message is 'A', expected 'J'"})

    kind, body = await _exchange(media_socket, encode_message(MessageKind.JOIN, b"{"))
    assert kind is MessageKind.ERROR
    assert str(body["error"]).startswith("join is not valid JSON")

    kind, body = await _exchange(media_socket, _join(livekit_server, "t", publish_rate_hz=44100))
    assert body == {"error": "publish_rate_hz 44100 is not one of 8000, 12000, 16000, 24000, 48000"}

    kind, body = await _exchange(media_socket, _join(livekit_server, "not-a-jwt"))
    assert kind is MessageKind.ERROR
    assert str(body["error"]).startswith("connecting to the room:")


async def test_a_hostile_connection_does_not_touch_a_healthy_call(
    media_socket: str, livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    room = "native-isolation"
    await livekit_api.room.create_room(api.CreateRoomRequest(name=room))
    reader, writer = await asyncio.open_unix_connection(media_socket)
    try:
        writer.write(_join(livekit_server, _token(livekit_server, room, "healthy")))
        kind, joined = await asyncio.wait_for(read_message(reader), 20)
        assert kind is MessageKind.JOINED
        assert decode_json(joined)["codec"] == "pcmu"

        hostile_reader, hostile = await asyncio.open_unix_connection(media_socket)
        hostile.write(_join(livekit_server, _token(livekit_server, room, "hostile")))
        kind, _ = await asyncio.wait_for(read_message(hostile_reader), 20)
        assert kind is MessageKind.JOINED
        hostile.write(b"Z\x00\x00\x00\x00")  # an unknown kind: that call ends
        hostile.write(b"A\xff\xff\xff\xff")  # and a length past the cap
        await hostile.drain()
        assert await asyncio.wait_for(hostile_reader.read(), 20) == b""  # closed by the process
        hostile.close()

        for _ in range(100):  # the hostile participant leaves; the healthy one stays
            participants = await livekit_api.room.list_participants(
                api.ListParticipantsRequest(room=room)
            )
            identities = {p.identity for p in participants.participants}
            if identities == {"healthy"}:
                break
            await asyncio.sleep(0.1)
        assert identities == {"healthy"}
        for _ in range(50):  # the healthy call still takes audio and stays connected
            writer.write(encode_message(MessageKind.CALLER_AUDIO, bytes(320)))
        await writer.drain()
        seen = []  # what the healthy call hears: room news, no error, no close (EOF raises)
        with contextlib.suppress(TimeoutError):
            while True:
                kind, _ = await asyncio.wait_for(read_message(reader), 1.0)
                seen.append(kind)
        assert MessageKind.ERROR not in seen
        assert MessageKind.DISCONNECTED not in seen
        participants = await livekit_api.room.list_participants(
            api.ListParticipantsRequest(room=room)
        )
        assert {p.identity for p in participants.participants} == {"healthy"}
    finally:
        writer.close()
        await livekit_api.room.delete_room(api.DeleteRoomRequest(room=room))
