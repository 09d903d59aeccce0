"""Both call rooms against a real livekit-server, with a real rtc participant standing in for
the agent: CallRoom (livekit rtc in this process) and NativeCallRoom (the real
omnivoice-media process, G.711 at 8 kHz, Opus at 16 kHz)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from livekit import api, rtc

from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.native_call_room import NativeCallRoom, NativeMediaOptions
from omnivoice_rtc.shim.rtc_call_room import (
    CallRoom,
    CallRoomBase,
    CallRoomSpec,
    RoomAudioOptions,
    RoomCallbacks,
    call_participant_identity,
    call_room_name,
)
from omnivoice_rtc.types import Event, EventType, UserTranscript
from tests.integration.shim.room_peer import AgentPeer, rms, tone
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration


async def _until(predicate: object, *, timeout_s: float = 10.0) -> None:
    async def wait() -> None:
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110  # reason: a zero-arg callable; polls state set by livekit callbacks
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout_s)


def _settings(server: LiveKitServer) -> LiveKitSettings:
    return LiveKitSettings(url=server.url, api_key=server.api_key, api_secret=server.api_secret)


@pytest.fixture
async def media_process() -> AsyncIterator[NativeMediaProcess]:
    process = NativeMediaProcess()
    try:
        yield process
    finally:
        await process.aclose()


def _make_room(
    backend: str, process: NativeMediaProcess, spec: CallRoomSpec, callbacks: RoomCallbacks
) -> CallRoomBase:
    if backend == "native":
        native = NativeMediaOptions(process=process)
        return NativeCallRoom(spec=spec, native=native, callbacks=callbacks)
    return CallRoom(spec=spec, callbacks=callbacks)


@pytest.mark.parametrize(
    ("backend", "rate_hz"), [("rtc", 8000), ("native", 8000), ("native", 16000)]
)
async def test_call_room_relays_audio_dtmf_events_and_cleans_up(
    backend: str,
    rate_hz: int,
    media_process: NativeMediaProcess,
    livekit_server: LiveKitServer,
    livekit_api: api.LiveKitAPI,
) -> None:
    call_id = "CA" + secrets.token_hex(8)
    room_name = call_room_name("twilio", call_id)
    identity = call_participant_identity("twilio", call_id)
    agent_audio: list[bytes] = []
    agent_dtmf: list[str] = []
    events: list[Event] = []
    states: list[tuple[str, str]] = []
    left = asyncio.Event()
    spec = CallRoomSpec(
        livekit=_settings(livekit_server),
        room_name=room_name,
        identity=identity,
        attributes={
            "carrier": "twilio",
            "call_id": call_id,
            "from": "+15550001",
            "to": "+15550002",
            "direction": "inbound",
        },
        agent_name="no-such-agent",
        audio=RoomAudioOptions(publish_rate_hz=rate_hz, subscribe_rate_hz=rate_hz),
    )
    room = _make_room(
        backend,
        media_process,
        spec,
        RoomCallbacks(
            on_agent_audio=agent_audio.append,
            on_agent_dtmf=agent_dtmf.append,
            on_event=events.append,
            on_agent_state=lambda old, new: states.append((old, new)),
            on_agent_left=left.set,
        ),
    )
    await room.start()
    peer = AgentPeer(server=livekit_server, room_name=room_name)
    try:
        await peer.join()
        await _until(lambda: room.agent_identity == peer.identity)

        # caller -> agent: 1 s of tone at the carrier rate arrives as audible audio at 24 kHz
        pcm = tone(rate_hz=rate_hz, ms=1000)
        frame = rate_hz // 50 * 2
        for i in range(0, len(pcm), frame):
            await room.push_caller_audio(pcm[i : i + frame])
            await asyncio.sleep(0.02)
        await _until(lambda: rms(bytes(peer.caller_audio)) > 1000)
        assert peer.caller_kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP
        assert peer.caller_attributes["carrier"] == "twilio"
        assert peer.caller_attributes["call_id"] == call_id
        if isinstance(room, NativeCallRoom):  # G.711 forwarded as is; Opus only off 8 kHz
            assert room.codec == ("pcmu" if rate_hz == 8000 else "opus")

        # agent -> caller: 20 ms frames of PCM16 at the carrier rate, audible
        await peer.speak(tone(rate_hz=24000, ms=600))
        await _until(lambda: rms(b"".join(agent_audio)) > 1000)
        assert {len(f) for f in agent_audio} == {frame}

        # DTMF both ways
        await room.send_dtmf("5")
        await _until(lambda: peer.caller_dtmf == ["5"])
        await peer.send_dtmf("#", 11)
        await _until(lambda: agent_dtmf == ["#"])

        # events on omnivoice.events and agent state
        await peer.send_event(
            Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hello", final=True)),
            participant=identity,
        )
        await peer.send_event(
            Event(type=EventType.ERROR, error="other"), participant="someone-else"
        )
        await _until(lambda: len(events) == 1)
        assert events[0].type is EventType.USER_TRANSCRIPT
        await peer.set_state("speaking")
        await _until(lambda: room.agent_state == "speaking")
        await peer.set_state("listening")
        await _until(lambda: ("speaking", "listening") in states)

        # the agent leaves: the room notices
        await peer.leave()
        await asyncio.wait_for(left.wait(), 10)
    finally:
        await peer.leave()
        await room.aclose()
    rooms = await livekit_api.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
    assert list(rooms.rooms) == []


@pytest.mark.parametrize("backend", ["rtc", "native"])
async def test_agent_that_never_joins_is_reported(
    backend: str, media_process: NativeMediaProcess, livekit_server: LiveKitServer
) -> None:
    left = asyncio.Event()
    spec = CallRoomSpec(
        livekit=_settings(livekit_server),
        room_name=call_room_name("vonage", secrets.token_hex(6)),
        identity="pstn-vonage-x",
        attributes={"carrier": "vonage"},
        agent_name="no-such-agent",
        agent_join_timeout_s=0.5,
    )
    room = _make_room(backend, media_process, spec, RoomCallbacks(on_agent_left=left.set))
    await room.start()
    try:
        await asyncio.wait_for(left.wait(), 10)
    finally:
        await room.aclose()
