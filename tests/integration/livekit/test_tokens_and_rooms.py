"""Tokens from livekit.tokens against a real livekit-server.

Client A publishes a microphone track, client B in the same room receives audio
frames. Tokens the server must refuse (wrong secret, expired, other room, a
non-microphone source) are each refused. The caller, agent and observer tokens get
the kind and permissions they claim. Room helpers create/list/delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import numpy as np
import pytest
from livekit import api, rtc

from omnivoice_rtc import RoomInfo
from omnivoice_rtc.livekit import create_room, delete_room, generate_client_token, list_rooms
from omnivoice_rtc.livekit.tokens import agent_token, caller_token, observer_token
from omnivoice_rtc.settings import LiveKitSettings
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration

SAMPLE_RATE_HZ = 48_000
FRAME_SAMPLES = SAMPLE_RATE_HZ // 100  # 10 ms
GUARD_S = 20.0  # upper bound only; no test asserts a duration


def creds(server: LiveKitServer) -> LiveKitSettings:
    return LiveKitSettings(url=server.url, api_key=server.api_key, api_secret=server.api_secret)


def unique_room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def rooms() -> AsyncIterator[list[rtc.Room]]:
    """Rooms created by a test; disconnected after it."""
    created: list[rtc.Room] = []
    yield created
    for room in created:  # bounded: a wedged FFI call must fail the test, not hang the run
        async with asyncio.timeout(GUARD_S):
            await room.disconnect()


async def connect(server: LiveKitServer, token: str, rooms: list[rtc.Room]) -> rtc.Room:
    room = rtc.Room()
    rooms.append(room)
    await room.connect(server.url, token, rtc.RoomOptions(connect_timeout=5.0))
    return room


def tone_frame(index: int) -> rtc.AudioFrame:
    """A 10 ms, 440 Hz, mono int16 frame (half scale)."""
    start = index * FRAME_SAMPLES
    t = (np.arange(start, start + FRAME_SAMPLES) / SAMPLE_RATE_HZ).astype(np.float64)
    samples = (np.sin(2 * math.pi * 440.0 * t) * 16_000).astype(np.int16)
    return rtc.AudioFrame(
        data=samples.tobytes(),
        sample_rate=SAMPLE_RATE_HZ,
        num_channels=1,
        samples_per_channel=FRAME_SAMPLES,
    )


async def publish_tone(source: rtc.AudioSource, stop: asyncio.Event) -> None:
    """Feed the tone until ``stop``; capture_frame paces us (it waits for queue room)."""
    index = 0
    while not stop.is_set():
        await source.capture_frame(tone_frame(index))
        index += 1


async def test_published_microphone_audio_reaches_the_other_participant(
    livekit_server: LiveKitServer, rooms: list[rtc.Room]
) -> None:
    room_name = unique_room()
    alice = await connect(
        livekit_server,
        generate_client_token(room_name, "alice", "Alice", credentials=creds(livekit_server)),
        rooms,
    )
    bob = await connect(
        livekit_server,
        generate_client_token(room_name, "bob", "Bob", credentials=creds(livekit_server)),
        rooms,
    )
    subscribed: asyncio.Future[tuple[rtc.Track, str]] = asyncio.get_running_loop().create_future()

    @bob.on("track_subscribed")
    def _on_subscribed(
        track: rtc.Track, _pub: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if not subscribed.done():
            subscribed.set_result((track, participant.identity))

    source = rtc.AudioSource(SAMPLE_RATE_HZ, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    publication = await alice.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    assert publication.sid
    stop = asyncio.Event()
    publisher = asyncio.create_task(publish_tone(source, stop))
    try:
        async with asyncio.timeout(GUARD_S):
            remote_track, publisher_identity = await subscribed
        assert publisher_identity == "alice"
        assert remote_track.kind == rtc.TrackKind.KIND_AUDIO
        assert bob.remote_participants["alice"].name == "Alice"

        loud_frames = 0
        stream = rtc.AudioStream(remote_track, sample_rate=SAMPLE_RATE_HZ, num_channels=1)
        try:
            async with asyncio.timeout(GUARD_S):
                async for event in stream:
                    samples = np.frombuffer(event.frame.data, dtype=np.int16)
                    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
                    if rms > 1000.0:  # the tone, not comfort noise or silence
                        loud_frames += 1
                    if loud_frames >= 20:
                        break
        finally:
            async with asyncio.timeout(GUARD_S):
                await stream.aclose()
        assert loud_frames >= 20
    finally:
        stop.set()
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
        async with asyncio.timeout(GUARD_S):
            await source.aclose()


async def test_server_applies_the_microphone_only_grant(
    livekit_server: LiveKitServer, rooms: list[rtc.Room], livekit_api: api.LiveKitAPI
) -> None:
    room_name = unique_room()
    token = generate_client_token(room_name, "alice", credentials=creds(livekit_server))
    await connect(livekit_server, token, rooms)
    alice = await livekit_api.room.get_participant(
        api.RoomParticipantIdentity(room=room_name, identity="alice")
    )
    assert list(alice.permission.can_publish_sources) == [api.TrackSource.MICROPHONE]
    assert alice.permission.can_subscribe
    assert alice.permission.can_publish_data
    assert not alice.permission.hidden
    assert not alice.permission.agent


async def test_client_token_cannot_use_the_server_api(livekit_server: LiveKitServer) -> None:
    room_name = unique_room()
    token = generate_client_token(room_name, "alice", credentials=creds(livekit_server))
    client = api.LiveKitAPI.with_token(token, livekit_server.http_url)
    try:
        with pytest.raises(api.TwirpError) as listing:
            await client.room.list_rooms(api.ListRoomsRequest())
        with pytest.raises(api.TwirpError) as creating:
            await client.room.create_room(api.CreateRoomRequest(name="other-" + room_name))
        with pytest.raises(api.TwirpError) as removing:
            await client.room.remove_participant(
                api.RoomParticipantIdentity(room=room_name, identity="bob")
            )
    finally:
        await client.aclose()
    for refused in (listing.value, creating.value, removing.value):
        assert refused.status in (401, 403), refused


def forged(server: LiveKitServer, room: str, **changes: Any) -> str:
    """A valid client token's claims, modified and re-signed with ``secret``."""
    token = generate_client_token(room, "mallory", credentials=creds(server))
    claims = jwt.decode(token, options={"verify_signature": False})
    secret = changes.pop("secret", server.api_secret)
    claims.update(changes)
    return jwt.encode(claims, secret, algorithm="HS256")


async def assert_refused(server: LiveKitServer, token: str, rooms: list[rtc.Room]) -> str:
    with pytest.raises(rtc.ConnectError) as caught:
        await connect(server, token, rooms)
    return caught.value.message


async def test_token_signed_with_the_wrong_secret_is_refused(
    livekit_server: LiveKitServer, rooms: list[rtc.Room]
) -> None:
    token = forged(livekit_server, unique_room(), secret="wrong-secret-" + "z" * 40)
    message = await assert_refused(livekit_server, token, rooms)
    assert "401 Unauthorized" in message
    assert "signature is invalid" in message


async def test_expired_token_is_refused(
    livekit_server: LiveKitServer, rooms: list[rtc.Room]
) -> None:
    now = int(time.time())
    token = forged(livekit_server, unique_room(), nbf=now - 3600, exp=now - 1800)
    message = await assert_refused(livekit_server, token, rooms)
    assert "401 Unauthorized" in message
    assert "token is expired" in message


async def test_room_a_token_cannot_join_room_b(
    livekit_server: LiveKitServer, rooms: list[rtc.Room], livekit_api: api.LiveKitAPI
) -> None:
    room_a, room_b = unique_room(), unique_room()
    await create_room(livekit_api, room_b)
    token_a = generate_client_token(room_a, "mallory", credentials=creds(livekit_server))
    # The server takes the room from the token; a client can only ask for another
    # one by editing the claims, which breaks the signature.
    claims = jwt.decode(token_a, options={"verify_signature": False})
    claims["video"]["room"] = room_b
    tampered = jwt.encode(claims, "not-the-server-secret-" + "q" * 40, algorithm="HS256")
    message = await assert_refused(livekit_server, tampered, rooms)
    assert "401 Unauthorized" in message
    assert "signature is invalid" in message
    # Nor can it act on room B through the server API.
    as_client = api.LiveKitAPI.with_token(token_a, livekit_server.http_url)
    try:
        with pytest.raises(api.TwirpError) as refused:
            await as_client.room.list_participants(api.ListParticipantsRequest(room=room_b))
    finally:
        await as_client.aclose()
    assert refused.value.status in (401, 403)
    # Joining with the untouched token lands in room A, never in room B.
    room = await connect(livekit_server, token_a, rooms)
    assert room.name == room_a
    participants = await livekit_api.room.list_participants(
        api.ListParticipantsRequest(room=room_b)
    )
    assert [p.identity for p in participants.participants] == []
    await delete_room(livekit_api, room_b)


async def test_room_helpers_create_list_delete(livekit_api: api.LiveKitAPI) -> None:
    name = unique_room()
    created = await create_room(livekit_api, name, empty_timeout_s=60, metadata='{"k":"v"}')
    assert isinstance(created, RoomInfo)
    assert created.name == name
    assert created.metadata == '{"k":"v"}'
    assert created.participant_count == 0

    listed = await list_rooms(livekit_api, [name])
    assert [room.name for room in listed] == [name]
    assert name in [room.name for room in await list_rooms(livekit_api)]

    await delete_room(livekit_api, name)
    assert await list_rooms(livekit_api, [name]) == []


async def test_room_helpers_reject_bad_names(livekit_api: api.LiveKitAPI) -> None:
    with pytest.raises(ValueError, match=r"^room: must not be empty$"):
        await create_room(livekit_api, "")
    with pytest.raises(ValueError, match=r"^room: must be at most 256 characters, got 257$"):
        await delete_room(livekit_api, "r" * 257)
    with pytest.raises(ValueError, match=r"^names: must not contain control characters"):
        await list_rooms(livekit_api, ["ok", "bad\tname"])


async def test_server_applies_the_caller_agent_and_observer_grants(
    livekit_server: LiveKitServer, rooms: list[rtc.Room], livekit_api: api.LiveKitAPI
) -> None:
    room_name = unique_room()
    credentials = creds(livekit_server)
    await connect(
        livekit_server,
        caller_token(
            credentials=credentials,
            room=room_name,
            identity="pstn-test-1",
            name="+15550001",
            attributes={"carrier": "test", "call_id": "1"},
        ),
        rooms,
    )
    await connect(
        livekit_server,
        agent_token(credentials=credentials, room=room_name, identity="agent-1", name="Agent"),
        rooms,
    )
    await connect(
        livekit_server,
        observer_token(credentials=credentials, room=room_name, identity="observer-1"),
        rooms,
    )

    async def participant(identity: str) -> api.ParticipantInfo:
        return await livekit_api.room.get_participant(
            api.RoomParticipantIdentity(room=room_name, identity=identity)
        )

    caller = await participant("pstn-test-1")
    assert caller.kind == api.ParticipantInfo.SIP
    assert dict(caller.attributes) == {"carrier": "test", "call_id": "1"}
    assert caller.name == "+15550001"
    assert caller.permission.can_publish
    assert caller.permission.can_subscribe
    assert not caller.permission.hidden
    assert not caller.permission.agent

    agent = await participant("agent-1")
    assert agent.kind == api.ParticipantInfo.AGENT
    assert agent.permission.agent
    assert agent.permission.can_update_metadata

    observer = await participant("observer-1")
    assert observer.permission.hidden
    assert not observer.permission.can_publish
    assert not observer.permission.can_subscribe
    assert observer.permission.can_publish_data
    await delete_room(livekit_api, room_name)
