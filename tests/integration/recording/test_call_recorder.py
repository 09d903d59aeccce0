"""Call recording through a real LiveKit Egress (bin/livekit-egress on the SIP stack's
Redis): a participant publishes a tone, CallRecorder records its track to an Ogg/Opus
file and stops; without Egress the start is a ProviderError."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from livekit import api, rtc

from omnivoice_rtc import ProviderError
from omnivoice_rtc.recording import CallRecorder
from tests.plugins.egress import EgressServer
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

RATE = 48000
IDENTITY = "+15550100123"  # a SIP identity holds a number (kept: "+" is safe in a path)


def _ogg_pages(data: bytes) -> list[tuple[int, bytes]]:
    """(granule position, first packet bytes) of every Ogg page."""
    pages, at = [], 0
    while at + 27 <= len(data):
        assert data[at : at + 4] == b"OggS", f"not an Ogg page at byte {at}"
        granule = struct.unpack_from("<q", data, at + 6)[0]
        count = data[at + 26]
        lacing = data[at + 27 : at + 27 + count]
        body = at + 27 + count
        pages.append((granule, data[body : body + lacing[0]] if count else b""))
        at = body + sum(lacing)
    return pages


@contextlib.asynccontextmanager
async def _publisher(server: LiveKitServer, room: str) -> AsyncIterator[rtc.LocalTrackPublication]:
    """A participant playing a 440 Hz tone into ``room`` until the block ends."""
    token = (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(IDENTITY)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )
    lk_room = rtc.Room()
    await lk_room.connect(server.url, token)
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("caller", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await lk_room.local_participant.publish_track(track, options)

    async def play() -> None:
        n = 0
        while True:
            t = (np.arange(480) + n) / RATE
            n += 480
            pcm = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), RATE, 1, 480))

    player = asyncio.get_running_loop().create_task(play())
    client = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        async with asyncio.timeout(30):  # the server lists a track once its media flows
            while not await _listed(client, room, publication.sid):  # noqa: ASYNC110 -- reason: polls the server's API
                await asyncio.sleep(0.1)
        yield publication
    finally:
        await client.aclose()
        player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await player
        await lk_room.disconnect()


async def _listed(client: api.LiveKitAPI, room: str, track_sid: str) -> bool:
    listed = await client.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(t.sid == track_sid for p in listed.participants for t in p.tracks)


async def test_a_track_is_recorded_to_an_ogg_opus_file(egress_server: EgressServer) -> None:
    server = egress_server.stack.livekit
    client = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        recorder = CallRecorder(api=client, directory=egress_server.recordings)
        async with _publisher(server, "rec-room-1") as publication:
            recording = await recorder.start("rec-room-1", call_id="call/1")
            [track] = recording.tracks
            assert (track.participant, track.track_sid) == (IDENTITY, publication.sid)
            folder = egress_server.recordings / "call_1"  # "/" never reaches the path
            assert recording.directory == str(folder)
            assert recording.files == (str(folder / f"+15550100123-{publication.sid}.ogg"),)
            await recorder.wait_active(recording, timeout_s=60)
            await asyncio.sleep(2.0)  # 2 s of tone into the file
            done = await recorder.stop(recording)
        [final] = done.tracks
        assert final.status == "EGRESS_COMPLETE", final
        assert final.error == ""
        data = await asyncio.to_thread(Path(final.file).read_bytes)
        assert final.size_bytes == len(data) > 0
        pages = _ogg_pages(data)
        assert pages[0][1].startswith(b"OpusHead")  # an Opus stream, as sent (no transcoding)
        assert pages[1][1].startswith(b"OpusTags")
        assert pages[-1][0] > RATE // 2, "less than 0.5 s of audio recorded"
    finally:
        await client.aclose()


async def test_only_the_named_participants_are_recorded(egress_server: EgressServer) -> None:
    server = egress_server.stack.livekit
    client = api.LiveKitAPI(
        url=server.http_url, api_key=server.api_key, api_secret=server.api_secret
    )
    try:
        recorder = CallRecorder(api=client, directory=egress_server.recordings)
        async with _publisher(server, "rec-room-2"):
            nobody = await recorder.start("rec-room-2", identities=["someone-else"])
            assert nobody.tracks == ()
            assert nobody.directory == str(egress_server.recordings / "rec-room-2")
    finally:
        await client.aclose()


async def test_without_egress_the_start_is_a_provider_error(
    livekit_server: LiveKitServer,
) -> None:
    """The shared livekit_server runs without Redis, so no Egress can serve it."""
    client = api.LiveKitAPI(
        url=livekit_server.http_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
    )
    try:
        recorder = CallRecorder(api=client, directory="/tmp/omnivoice-no-egress")
        async with _publisher(livekit_server, "rec-room-3"):
            with pytest.raises(ProviderError, match="egress refused") as info:
                await recorder.start("rec-room-3")
            assert info.value.retryable
    finally:
        await client.aclose()
