"""Media WebSockets against the real web app, real aiohttp WebSockets and a real livekit-server.

No agent worker here (the dispatched agent name has no worker): these tests cover the
stream side - tokens, bad-input policy, carrier detection, hang-up paths, barge-in, DTMF.
REST call control (make_call, Telnyx Call Control) is in test_call_control.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import aiohttp
import pytest
from livekit import api

from omnivoice_rtc.audio.dtmf import detect_dtmf
from omnivoice_rtc.shim.call_bridge import CallBridge
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.shim.rtc_call_room import call_participant_identity, call_room_name
from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator
from omnivoice_rtc.types import Event, EventType, UserTranscript
from tests.integration.shim.room_peer import AgentPeer, tone
from tests.integration.shim.shim_app import (
    ACCOUNT_SID,
    App,
    closed,
    session_for,
    sim_for,
    stream_target,
    until,
)
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration


async def _room_exists(lk: api.LiveKitAPI, name: str) -> bool:
    rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))
    return bool(rooms.rooms)


async def test_unknown_and_reused_tokens_close_1008_before_a_room_exists(
    shim_app: App, livekit_api: api.LiveKitAPI
) -> None:
    async with sim_for(shim_app, "twilio") as stranger:
        await stranger.open_stream(stream_target(shim_app, "twilio", "0" * 32))
        assert await stranger.wait_closed() == 1008
        assert not await _room_exists(livekit_api, call_room_name("twilio", stranger.call_id))

    async with sim_for(shim_app, "plivo") as first, sim_for(shim_app, "plivo") as replay:
        token = await shim_app.runtime.tokens.issue(first.call_id, "plivo")
        await first.open_stream(stream_target(shim_app, "plivo", token))
        await session_for(shim_app, "plivo", first.call_id)
        replay.call_id = first.call_id
        await replay.open_stream(stream_target(shim_app, "plivo", token))
        assert await replay.wait_closed() == 1008
        await first.hang_up()

    async with sim_for(shim_app, "vonage") as wrong_carrier:
        token = await shim_app.runtime.tokens.issue(wrong_carrier.call_id, "twilio")
        await wrong_carrier.open_stream(stream_target(shim_app, "vonage", token))
        assert await wrong_carrier.wait_closed() == 1008
        assert not await _room_exists(livekit_api, call_room_name("vonage", wrong_carrier.call_id))


async def test_hostile_streams_are_cut_off_while_a_healthy_call_is_untouched(
    shim_app: App,
) -> None:
    tokens = shim_app.runtime.tokens

    async def opened(carrier: str) -> CarrierSimulator:
        sim = sim_for(shim_app, carrier)
        await sim.__aenter__()
        token = await tokens.issue(sim.call_id, carrier)
        await sim.open_stream(stream_target(shim_app, carrier, token))
        return sim

    async def oversized() -> int | None:
        sim = await opened("twilio")
        await sim.send_raw("x" * (shim_app.runtime.policy.max_frame_bytes + 1))
        code = await sim.wait_closed()
        await sim.__aexit__(None, None, None)
        return code

    async def garbage() -> int | None:
        sim = await opened("telnyx")
        for _ in range(10):
            await sim.send_raw("{not json")
        code = await sim.wait_closed()
        await sim.__aexit__(None, None, None)
        return code

    async def second_start() -> int | None:
        sim = await opened("twilio")
        await sim.send_raw(sim.codec.serialize(sim.start_message({})))
        code = await sim.wait_closed()
        await sim.__aexit__(None, None, None)
        return code

    async def counted() -> dict[str, int]:
        sim = await opened("vonage")
        session = await session_for(shim_app, "vonage", sim.call_id)
        await sim.send_raw(b"\x00" * 100)  # not 640 bytes
        for payload in sim.media_frames(tone(rate_hz=16000, ms=3000), 16000):
            await sim.send_raw(sim.media_message(payload))  # 3 s at once: too fast
        assert session.bridge is not None
        counters = session.bridge.counters
        await until(lambda: counters.frames_in + counters.dropped_too_fast >= 150)
        await sim.hang_up()
        await sim.__aexit__(None, None, None)
        return counters.as_dict()

    async def healthy() -> tuple[int, dict[str, int]]:
        sim = await opened("plivo")
        session = await session_for(shim_app, "plivo", sim.call_id)
        frames = sim.media_frames(tone(rate_hz=8000, ms=3000), 8000)
        await sim.stream_pcm(tone(rate_hz=8000, ms=3000), 8000)
        assert session.bridge is not None
        bridge = session.bridge
        await until(lambda: bridge.counters.frames_in >= len(frames))
        counters = session.bridge.counters.as_dict()
        await sim.hang_up()
        await sim.__aexit__(None, None, None)
        return len(frames), counters

    codes, garbage_code, start_code, hostile, (sent, ok) = await asyncio.gather(
        oversized(), garbage(), second_start(), counted(), healthy()
    )
    assert codes == 1009
    assert garbage_code == 1007
    assert start_code == 1008
    assert hostile["dropped_wrong_size"] == 1
    assert hostile["dropped_too_fast"] > 0
    assert hostile["frames_in"] < 150
    assert ok["frames_in"] == sent
    assert sum(v for k, v in ok.items() if k.startswith("dropped_")) == 0
    assert ok["frames_late"] <= 2


async def test_media_before_start_is_counted_and_the_generic_path_detects_the_carrier(
    shim_app: App,
) -> None:
    async with sim_for(shim_app, "plivo") as sim:
        token = await shim_app.runtime.tokens.issue(sim.call_id, "plivo")
        target = stream_target(shim_app, "plivo", token, generic=True)
        assert sim.http is not None
        sim.ws = await sim.http.ws_connect(target.url)
        media = sim.media_message(bytes(160))
        await sim.send_raw(media)  # detection fails on media: counted, dropped
        await sim.send_raw(sim.codec.serialize(sim.start_message({"token": token})))
        session = await session_for(shim_app, "plivo", sim.call_id)
        assert session.bridge is not None
        assert session.bridge.codec.carrier == "plivo"
        assert session.bridge.counters.dropped_before_start == 1
        await sim.ws.close()


async def test_agent_ending_the_call_hangs_up_over_rest_and_closes_the_stream(
    shim_app: App, livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    call_id = "CA" + secrets.token_hex(16)
    shim_app.rest.respond(
        "POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_id}.json", 200, {"sid": call_id}
    )
    async with sim_for(shim_app, "twilio") as sim:
        sim.call_id = call_id
        token = await shim_app.runtime.tokens.issue(call_id, "twilio", context={"from": "+1555"})
        await sim.open_stream(stream_target(shim_app, "twilio", token))
        sim.start_mic()
        session = await session_for(shim_app, "twilio", call_id)
        assert session.from_ == "+1555"
        peer = AgentPeer(server=livekit_server, room_name=call_room_name("twilio", call_id))
        await peer.join()
        await peer.speak(tone(rate_hz=24000, ms=1000))
        await asyncio.sleep(0.5)
        identity = call_participant_identity("twilio", call_id)
        await peer.send_event(Event(type=EventType.SESSION_ENDED), participant=identity)
        await asyncio.sleep(0.3)  # the agent ended the conversation, then leaves
        await peer.leave()
        assert await sim.wait_closed() == 1000
    await asyncio.wait_for(closed(session), 10)
    hangups = [r for r in shim_app.rest.requests if r.path.endswith(f"/Calls/{call_id}.json")]
    assert len(hangups) == 1
    assert dict(parse_qsl(hangups[0].body.decode())) == {"Status": "completed"}
    assert session.end_reason == "agent_left"
    assert sim.received_seconds(threshold=300) > 0.3
    deadline = time.monotonic() + 10
    while await _room_exists(livekit_api, call_room_name("twilio", call_id)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


@dataclass
class AgentCall:
    """A simulated carrier call whose room holds a stand-in agent peer."""

    sim: CarrierSimulator
    session: PstnSession
    bridge: CallBridge
    peer: AgentPeer


@contextlib.asynccontextmanager
async def _call_with_agent(
    app: App, carrier: str, livekit_server: LiveKitServer
) -> AsyncIterator[AgentCall]:
    """A call on ``carrier`` joined by an AgentPeer the bridge has recognised as its agent."""
    async with sim_for(app, carrier) as sim:
        token = await app.runtime.tokens.issue(sim.call_id, carrier)
        await sim.open_stream(stream_target(app, carrier, token))
        session = await session_for(app, carrier, sim.call_id)
        bridge = session.bridge
        assert bridge is not None
        peer = AgentPeer(server=livekit_server, room_name=bridge.room.room_name)
        await peer.join()
        try:
            await until(lambda: bridge.room.agent_identity == peer.identity)
            yield AgentCall(sim, session, bridge, peer)
        finally:
            await peer.leave()
            await sim.hang_up()


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "vonage", "plivo", "exotel"])
async def test_barge_in_sends_the_carriers_flush(
    carrier: str, shim_app: App, livekit_server: LiveKitServer
) -> None:
    """The agent stops speaking after the caller talked over it -> one flush in the
    carrier's own form (clear / clearAudio / {"action":"clear"}); marks come back. The
    simulated carrier parses every command it gets, so Exotel's 100 ms media messages are
    checked to be whole multiples of 320 bytes."""
    async with _call_with_agent(shim_app, carrier, livekit_server) as call:
        sim, session, bridge, peer = call.sim, call.session, call.bridge, call.peer
        await peer.set_state("speaking")
        await until(lambda: bridge.room.agent_state == "speaking")
        await peer.speak(tone(rate_hz=24000, ms=1200))
        await until(lambda: bridge.counters.marks_acked > 0)
        identity = bridge.room.identity
        await peer.send_event(Event(type=EventType.USER_SPEECH_START), participant=identity)
        await until(lambda: any(e.type is EventType.USER_SPEECH_START for e in seen(session)))
        await peer.set_state("listening")
        await until(lambda: len(sim.clears) == 1)
        # the later interruption event does not flush again (nothing sent since)
        await peer.send_event(Event(type=EventType.INTERRUPTION), participant=identity)
        await until(lambda: any(e.type is EventType.INTERRUPTION for e in seen(session)))
        assert bridge.counters.flushes == 1
        assert len(sim.clears) == 1


def seen(session: PstnSession) -> list[Event]:
    return list(session._events)  # reason: the session's record of events so far


@pytest.mark.parametrize("carrier", ["twilio", "vonage"])
async def test_agent_dtmf_reaches_the_caller_as_in_band_tones(
    carrier: str, shim_app: App, livekit_server: LiveKitServer
) -> None:
    """The agent keys 4, 2 (room DTMF) -> the carrier receives the tone pairs in its own
    frames (μ-law 8 kHz for Twilio, L16 16 kHz for Vonage), read back by a Goertzel
    detector."""
    async with _call_with_agent(shim_app, carrier, livekit_server) as call:
        before = len(call.sim.received_pcm)
        await call.peer.send_dtmf("4", 4)
        await call.peer.send_dtmf("2", 2)
        await until(lambda: call.bridge.counters.dtmf_out == 2)
        rate = 16000 if carrier == "vonage" else 8000
        heard = ""
        deadline = time.monotonic() + 10
        while heard != "42" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            heard = detect_dtmf(bytes(call.sim.received_pcm[before:]), sample_rate_hz=rate)
        assert heard == "42"


async def test_audio_sent_while_the_room_is_joined_is_counted_not_burst_into_it(
    shim_app: App,
) -> None:
    """Frames that arrive before the room exists have no listener: counted as
    dropped_before_room, not queued in TCP and cut later by the real-time budget; a digit
    pressed meanwhile is counted (and published once joined)."""
    async with sim_for(shim_app, "twilio") as sim:
        token = await shim_app.runtime.tokens.issue(sim.call_id, "twilio")
        await sim.open_stream(stream_target(shim_app, "twilio", token))
        for _ in range(20):  # 400 ms of audio at once, long before a room is joined
            await sim.send_raw(sim.media_message(b"\xff" * 160))
        await sim.send_dtmf("3")
        session = await session_for(shim_app, "twilio", sim.call_id)
        assert session.bridge is not None
        counters = session.bridge.counters
        await until(lambda: counters.dtmf_in == 1)
        assert counters.dropped_before_room > 0
        assert counters.dropped_before_room + counters.frames_in == 20
        assert counters.dropped_too_fast == counters.dropped_backlog == 0
        await sim.hang_up()


async def test_exotel_upgrade_needs_its_basic_credentials(shim_app: App) -> None:
    """Exotel signs nothing: its own path refuses an upgrade without the applet's Basic
    credentials (403, no WebSocket); the generic path, which accepts the upgrade before it
    knows the carrier, closes it with 1008 once the first frames say Exotel."""
    async with sim_for(shim_app, "exotel") as sim:
        token = await shim_app.runtime.tokens.issue(sim.call_id, "exotel")
        assert sim.http is not None
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await sim.http.ws_connect(f"{shim_app.ws_base}/carriers/exotel/media")
        assert info.value.status == 403
        wrong = {"Authorization": "Basic " + base64.b64encode(b"exotel-sim:guess").decode()}
        await sim.open_stream(stream_target(shim_app, "exotel", token, generic=True), headers=wrong)
        assert await sim.wait_closed() == 1008
    assert shim_app.gateways["exotel"].get_session(sim.call_id) is None
    async with sim_for(shim_app, "exotel") as good:  # the same token was not burnt
        good.call_id = sim.call_id
        await good.open_stream(stream_target(shim_app, "exotel", token, generic=True))
        session = await session_for(shim_app, "exotel", good.call_id)
        assert session.bridge is not None
        assert session.bridge.codec.carrier == "exotel"
        await good.hang_up()


async def test_an_agent_gone_without_ending_the_call_gets_a_fresh_one_with_the_transcript(
    shim_app: App, livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    call_id = "CA" + secrets.token_hex(16)
    room = call_room_name("twilio", call_id)
    async with sim_for(shim_app, "twilio") as sim:
        sim.call_id = call_id
        token = await shim_app.runtime.tokens.issue(call_id, "twilio")
        await sim.open_stream(stream_target(shim_app, "twilio", token))
        sim.start_mic()
        session = await session_for(shim_app, "twilio", call_id)
        peer = AgentPeer(server=livekit_server, room_name=room)
        await peer.join()
        bridge = session.bridge
        assert bridge is not None
        # the shim has taken the peer for the call's agent (in CI a peer that left 48 ms
        # after joining was never seen as one, so its leaving was nobody's)
        await until(lambda: bridge.room.agent_identity == peer.identity)
        identity = call_participant_identity("twilio", call_id)
        transcript = Event(
            type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="my order", final=True)
        )
        await peer.send_event(transcript, participant=identity)
        await until(lambda: [t.text for t in session.transcript()] == ["my order"])
        await peer.leave()  # gone without ending the conversation: a fresh agent is sent

        async def resumed() -> list[str]:
            dispatches = await livekit_api.agent_dispatch.list_dispatch(room_name=room)
            return [d.metadata for d in dispatches if "resume" in d.metadata]

        deadline = time.monotonic() + 30
        while not (metadata := await resumed()):
            assert time.monotonic() < deadline, (
                "no fresh agent dispatched; the bridge's liveness log: "
                f"{session.bridge.liveness_log if session.bridge else None}, "
                f"closed={session.closed}"
            )
            await asyncio.sleep(0.1)
        resume = json.loads(metadata[0])["omnivoice"]["resume"]["transcript"]
        assert [t["text"] for t in resume] == ["my order"]
        assert not session.closed
        await sim.hang_up()
    await asyncio.wait_for(closed(session), 10)
