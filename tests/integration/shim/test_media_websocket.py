"""Media WebSockets against the real web app, real aiohttp WebSockets and a real livekit-server.

No agent worker here (the dispatched agent name has no worker): these tests cover the
stream side - tokens, bad-input policy, carrier detection, hang-up paths, make_call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from livekit import api

from omnivoice_rtc import CallRejectedError
from omnivoice_rtc.audio.dtmf import detect_dtmf
from omnivoice_rtc.carriers.plivo import PlivoRestClient
from omnivoice_rtc.carriers.telnyx import TelnyxRestClient
from omnivoice_rtc.carriers.twilio import TwilioRestClient
from omnivoice_rtc.media_streams.base import Carrier
from omnivoice_rtc.settings import LiveKitSettings, Settings
from omnivoice_rtc.shim.bridge import CallBridge
from omnivoice_rtc.shim.carriers import PlivoAdapter, TelnyxAdapter, TwilioAdapter, VonageAdapter
from omnivoice_rtc.shim.gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.shim.room import call_room_name
from omnivoice_rtc.shim.routes import carrier_route_installer
from omnivoice_rtc.shim.session import PstnSession
from omnivoice_rtc.types import CallInfo, Event, EventType
from omnivoice_rtc.web import create_app
from tests.fakes.carrier_rest import CarrierRestFake
from tests.fakes.carrier_simulator import CarrierSecrets, CarrierSimulator, StreamTarget
from tests.integration.shim.room_peer import AgentPeer, tone
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = pytest.mark.integration

ACCOUNT_SID = "AC" + "1" * 32
PLIVO_AUTH_ID = "MA" + "2" * 18


@dataclass
class App:
    base_url: str
    ws_base: str
    runtime: ShimRuntime
    gateways: dict[Carrier, MediaStreamGateway]
    rest: CarrierRestFake
    secrets: CarrierSecrets


@pytest.fixture
async def shim_app(livekit_server: LiveKitServer) -> AsyncIterator[App]:
    rest = CarrierRestFake()
    await rest.start()
    lk = LiveKitSettings(
        url=livekit_server.url, api_key=livekit_server.api_key, api_secret=livekit_server.api_secret
    )
    secrets_ = CarrierSecrets()
    runtime = ShimRuntime(
        livekit=lk,
        agent_name="no-agent-" + secrets.token_hex(3),
        policy=MediaPolicy(max_invalid_frames=5, burst_ms=200),
        agent_join_timeout_s=120,
    )
    twilio_rest = TwilioRestClient(
        account_sid=ACCOUNT_SID, auth_token="tok", base_url=rest.base_url
    )
    gateways: dict[Carrier, MediaStreamGateway] = {
        "twilio": MediaStreamGateway(
            adapter=TwilioAdapter(auth_token=secrets_.twilio_auth_token, rest=twilio_rest),
            runtime=runtime,
            from_number="+15550000",
            public_base_url="https://shim.example.com",
        ),
        "telnyx": MediaStreamGateway(
            adapter=TelnyxAdapter(
                public_key=secrets_.telnyx_public_key,
                rest=TelnyxRestClient(api_key="KEY", base_url=rest.base_url),
            ),
            runtime=runtime,
        ),
        "vonage": MediaStreamGateway(
            adapter=VonageAdapter(signature_secret=secrets_.vonage_signature_secret),
            runtime=runtime,
        ),
        "plivo": MediaStreamGateway(
            adapter=PlivoAdapter(
                auth_token=secrets_.plivo_auth_token,
                rest=PlivoRestClient(
                    auth_id=PLIVO_AUTH_ID, auth_token="tok", base_url=rest.base_url
                ),
            ),
            runtime=runtime,
            from_number="+15550000",
            public_base_url="https://shim.example.com",
        ),
    }
    app = create_app(
        Settings(livekit=lk), route_installers=[carrier_route_installer(gateways.values())]
    )
    runner = web.AppRunner(app, shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # reason: aiohttp exposes the bound port only here
    try:
        yield App(
            base_url=f"http://127.0.0.1:{port}",
            ws_base=f"ws://127.0.0.1:{port}",
            runtime=runtime,
            gateways=gateways,
            rest=rest,
            secrets=secrets_,
        )
    finally:
        await runner.cleanup()
        await rest.aclose()


def _sim(app: App, carrier: Carrier) -> CarrierSimulator:
    return CarrierSimulator(carrier=carrier, base_url=app.base_url, secrets_=app.secrets)


def _target(app: App, carrier: Carrier, token: str, *, generic: bool = False) -> StreamTarget:
    path = "/carriers/media" if generic else f"/carriers/{carrier}/media"
    rate = 16000 if carrier == "vonage" else 8000
    return StreamTarget(f"{app.ws_base}{path}", {"token": token}, rate)


async def _session(app: App, carrier: Carrier, call_id: str) -> PstnSession:
    """The call's session once its bridge relays (room joined)."""
    for _ in range(600):
        session = app.gateways[carrier].get_session(call_id)
        if session is not None and session.bridge is not None:
            await asyncio.wait_for(session.bridge.relaying.wait(), 30)
            return session
        await asyncio.sleep(0.05)
    raise TimeoutError(call_id)


async def _room_exists(lk: api.LiveKitAPI, name: str) -> bool:
    rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))
    return bool(rooms.rooms)


async def test_unknown_and_reused_tokens_close_1008_before_a_room_exists(
    shim_app: App, livekit_api: api.LiveKitAPI
) -> None:
    async with _sim(shim_app, "twilio") as stranger:
        await stranger.open_stream(_target(shim_app, "twilio", "0" * 32))
        assert await stranger.wait_closed() == 1008
        assert not await _room_exists(livekit_api, call_room_name("twilio", stranger.call_id))

    async with _sim(shim_app, "plivo") as first, _sim(shim_app, "plivo") as replay:
        token = shim_app.runtime.tokens.issue(first.call_id, "plivo")
        await first.open_stream(_target(shim_app, "plivo", token))
        await _session(shim_app, "plivo", first.call_id)
        replay.call_id = first.call_id
        await replay.open_stream(_target(shim_app, "plivo", token))
        assert await replay.wait_closed() == 1008
        await first.hang_up()

    async with _sim(shim_app, "vonage") as wrong_carrier:
        token = shim_app.runtime.tokens.issue(wrong_carrier.call_id, "twilio")
        await wrong_carrier.open_stream(_target(shim_app, "vonage", token))
        assert await wrong_carrier.wait_closed() == 1008
        assert not await _room_exists(livekit_api, call_room_name("vonage", wrong_carrier.call_id))


async def test_hostile_streams_are_cut_off_while_a_healthy_call_is_untouched(
    shim_app: App,
) -> None:
    tokens = shim_app.runtime.tokens

    async def opened(carrier: Carrier) -> CarrierSimulator:
        sim = _sim(shim_app, carrier)
        await sim.__aenter__()
        await sim.open_stream(_target(shim_app, carrier, tokens.issue(sim.call_id, carrier)))
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
        session = await _session(shim_app, "vonage", sim.call_id)
        await sim.send_raw(b"\x00" * 100)  # not 640 bytes
        for payload in sim.media_frames(tone(rate_hz=16000, ms=3000), 16000):
            await sim.send_raw(sim.media_message(payload))  # 3 s at once: too fast
        assert session.bridge is not None
        counters = session.bridge.counters
        await _until(lambda: counters.frames_in + counters.dropped_too_fast >= 150)
        await sim.hang_up()
        await sim.__aexit__(None, None, None)
        return counters.as_dict()

    async def healthy() -> tuple[int, dict[str, int]]:
        sim = await opened("plivo")
        session = await _session(shim_app, "plivo", sim.call_id)
        frames = sim.media_frames(tone(rate_hz=8000, ms=3000), 8000)
        await sim.stream_pcm(tone(rate_hz=8000, ms=3000), 8000)
        assert session.bridge is not None
        bridge = session.bridge
        await _until(lambda: bridge.counters.frames_in >= len(frames))
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
    async with _sim(shim_app, "plivo") as sim:
        token = shim_app.runtime.tokens.issue(sim.call_id, "plivo")
        target = _target(shim_app, "plivo", token, generic=True)
        assert sim.http is not None
        sim.ws = await sim.http.ws_connect(target.url)
        media = sim.media_message(bytes(160))
        await sim.send_raw(media)  # detection fails on media: counted, dropped
        await sim.send_raw(sim.codec.serialize(sim.start_message({"token": token})))
        session = await _session(shim_app, "plivo", sim.call_id)
        assert session.bridge is not None
        assert session.bridge.codec.carrier == "plivo"
        assert session.bridge.counters.dropped_before_start == 1
        await sim.ws.close()


async def test_agent_leaving_hangs_up_over_rest_and_closes_the_stream(
    shim_app: App, livekit_server: LiveKitServer, livekit_api: api.LiveKitAPI
) -> None:
    call_id = "CA" + secrets.token_hex(16)
    shim_app.rest.respond(
        "POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_id}.json", 200, {"sid": call_id}
    )
    async with _sim(shim_app, "twilio") as sim:
        sim.call_id = call_id
        token = shim_app.runtime.tokens.issue(call_id, "twilio", context={"from": "+1555"})
        await sim.open_stream(_target(shim_app, "twilio", token))
        sim.start_mic()
        session = await _session(shim_app, "twilio", call_id)
        assert session.from_ == "+1555"
        peer = AgentPeer(server=livekit_server, room_name=call_room_name("twilio", call_id))
        await peer.join()
        await peer.speak(tone(rate_hz=24000, ms=1000))
        await asyncio.sleep(0.5)
        await peer.leave()
        assert await sim.wait_closed() == 1000
    await asyncio.wait_for(_closed(session), 10)
    hangups = [r for r in shim_app.rest.requests if r.path.endswith(f"/Calls/{call_id}.json")]
    assert len(hangups) == 1
    assert dict(parse_qsl(hangups[0].body.decode())) == {"Status": "completed"}
    assert session.end_reason == "agent_left"
    assert sim.received_seconds(threshold=300) > 0.3
    deadline = time.monotonic() + 10
    while await _room_exists(livekit_api, call_room_name("twilio", call_id)):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)


async def test_make_call_dials_over_rest_and_binds_the_stream(shim_app: App) -> None:
    call_id = "CA" + secrets.token_hex(16)
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"
    shim_app.rest.respond("POST", path, 201, {"sid": call_id})
    session = await shim_app.gateways["twilio"].make_call("+15551234")
    assert session.id == call_id
    assert session.direction == "outbound"
    request = shim_app.rest.requests[-1]
    assert request.method == "POST"
    assert request.path == path
    assert request.headers["Authorization"].startswith("Basic ")
    form = dict(request.form())
    assert form["To"] == "+15551234"
    assert form["From"] == "+15550000"
    assert 'url="wss://shim.example.com/carriers/twilio/media"' in form["Twiml"]
    async with _sim(shim_app, "twilio") as sim:
        sim.call_id = call_id
        twiml_target = sim.stream_target(form["Twiml"])
        # the carrier would connect to the public URL; we connect to the same path locally
        await sim.open_stream(_target(shim_app, "twilio", twiml_target.parameters["token"]))
        bound = await _session(shim_app, "twilio", call_id)
        assert bound is session
        await sim.hang_up()
    await asyncio.wait_for(_closed(session), 10)
    assert json.dumps(session.metrics().to_dict())


async def _closed(session: PstnSession) -> None:
    await _until(lambda: session.closed)


async def _until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@dataclass
class AgentCall:
    """A simulated carrier call whose room holds a stand-in agent peer."""

    sim: CarrierSimulator
    session: PstnSession
    bridge: CallBridge
    peer: AgentPeer


@contextlib.asynccontextmanager
async def _call_with_agent(
    app: App, carrier: Carrier, livekit_server: LiveKitServer
) -> AsyncIterator[AgentCall]:
    """A call on ``carrier`` joined by an AgentPeer the bridge has recognised as its agent."""
    async with _sim(app, carrier) as sim:
        token = app.runtime.tokens.issue(sim.call_id, carrier)
        await sim.open_stream(_target(app, carrier, token))
        session = await _session(app, carrier, sim.call_id)
        bridge = session.bridge
        assert bridge is not None
        peer = AgentPeer(server=livekit_server, room_name=bridge.room.room_name)
        await peer.join()
        try:
            await _until(lambda: bridge.room.agent_identity == peer.identity)
            yield AgentCall(sim, session, bridge, peer)
        finally:
            await peer.leave()
            await sim.hang_up()


@pytest.mark.parametrize("carrier", ["twilio", "telnyx", "vonage", "plivo"])
async def test_barge_in_sends_the_carriers_flush(
    carrier: Carrier, shim_app: App, livekit_server: LiveKitServer
) -> None:
    """The agent stops speaking after the caller talked over it -> one flush in the
    carrier's own form (clear / clearAudio / {"action":"clear"}); marks come back."""
    async with _call_with_agent(shim_app, carrier, livekit_server) as call:
        sim, session, bridge, peer = call.sim, call.session, call.bridge, call.peer
        await peer.set_state("speaking")
        await _until(lambda: bridge.room.agent_state == "speaking")
        await peer.speak(tone(rate_hz=24000, ms=1200))
        await _until(lambda: bridge.counters.marks_acked > 0)
        identity = bridge.room.identity
        await peer.send_event(Event(type=EventType.USER_SPEECH_START), participant=identity)
        await _until(lambda: any(e.type is EventType.USER_SPEECH_START for e in seen(session)))
        await peer.set_state("listening")
        await _until(lambda: len(sim.clears) == 1)
        # the later interruption event does not flush again (nothing sent since)
        await peer.send_event(Event(type=EventType.INTERRUPTION), participant=identity)
        await _until(lambda: any(e.type is EventType.INTERRUPTION for e in seen(session)))
        assert bridge.counters.flushes == 1
        assert len(sim.clears) == 1


def seen(session: PstnSession) -> list[Event]:
    return list(session._events)  # reason: the session's record of events so far


@pytest.mark.parametrize("carrier", ["twilio", "vonage"])
async def test_agent_dtmf_reaches_the_caller_as_in_band_tones(
    carrier: Carrier, shim_app: App, livekit_server: LiveKitServer
) -> None:
    """The agent keys 4, 2 (room DTMF) -> the carrier receives the tone pairs in its own
    frames (μ-law 8 kHz for Twilio, L16 16 kHz for Vonage), read back by a Goertzel
    detector."""
    async with _call_with_agent(shim_app, carrier, livekit_server) as call:
        before = len(call.sim.received_pcm)
        await call.peer.send_dtmf("4", 4)
        await call.peer.send_dtmf("2", 2)
        await _until(lambda: call.bridge.counters.dtmf_out == 2)
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
    async with _sim(shim_app, "twilio") as sim:
        token = shim_app.runtime.tokens.issue(sim.call_id, "twilio")
        await sim.open_stream(_target(shim_app, "twilio", token))
        for _ in range(20):  # 400 ms of audio at once, long before a room is joined
            await sim.send_raw(sim.media_message(b"\xff" * 160))
        await sim.send_dtmf("3")
        session = await _session(shim_app, "twilio", sim.call_id)
        assert session.bridge is not None
        counters = session.bridge.counters
        await _until(lambda: counters.dtmf_in == 1)
        assert counters.dropped_before_room > 0
        assert counters.dropped_before_room + counters.frames_in == 20
        assert counters.dropped_too_fast == counters.dropped_backlog == 0
        await sim.hang_up()


async def test_telnyx_call_control_is_answered_over_rest_and_reports_are_acknowledged(
    shim_app: App,
) -> None:
    """Call Control: call.initiated -> the handler -> REST actions/answer carrying the
    stream URL and the token as client_state -> the stream with that client_state binds
    the session. Later events (and call.initiated of a call we dialled) get 200 and ask
    nobody; a rejected call is refused over REST with the matching cause."""
    gateway = shim_app.gateways["telnyx"]
    offered: list[CallInfo] = []

    def on_call(call: CallInfo) -> None:
        offered.append(call)
        if call.to == "+15550000002":
            raise CallRejectedError("line busy", reason="busy")

    gateway.on_call(on_call)
    async with _sim(shim_app, "telnyx") as sim:
        sim.call_id = "v3:" + secrets.token_hex(12)
        answer_path = f"/v2/calls/{sim.call_id}/actions/answer"
        shim_app.rest.respond("POST", answer_path, 200, {"data": {"result": "ok"}})
        assert await sim.post_call_control_event("call.initiated") == (200, "{}")
        assert [c.call_id for c in offered] == [sim.call_id]
        answer = shim_app.rest.requests[-1]
        assert (answer.method, answer.path) == ("POST", answer_path)
        assert answer.headers["Authorization"] == "Bearer KEY"
        body = answer.json()
        assert body["stream_url"] == f"{shim_app.ws_base}/carriers/telnyx/media"
        assert body["stream_bidirectional_mode"] == "rtp"
        client_state = body["client_state"]
        for report in ("call.answered", "streaming.started"):
            assert await sim.post_call_control_event(report) == (200, "{}")
        assert len(offered) == 1
        assert len(shim_app.rest.requests) == 1
        target = StreamTarget(body["stream_url"], {}, 8000)
        await sim.open_stream(target, start_details={"client_state": client_state})
        session = await _session(shim_app, "telnyx", sim.call_id)
        assert (session.from_, session.to, session.direction) == (sim.caller, sim.callee, "inbound")
        await sim.hang_up()
        assert await sim.post_call_control_event("call.hangup") == (200, "{}")
    async with _sim(shim_app, "telnyx") as dialled:  # ours: reported, not offered
        assert await dialled.post_call_control_event("call.initiated", direction="outgoing") == (
            200,
            "{}",
        )
    async with _sim(shim_app, "telnyx") as busy:
        busy.callee = "+15550000002"
        busy.call_id = "v3:" + secrets.token_hex(12)
        reject_path = f"/v2/calls/{busy.call_id}/actions/reject"
        shim_app.rest.respond("POST", reject_path, 200, {"data": {"result": "ok"}})
        assert await busy.post_call_control_event("call.initiated") == (200, "{}")
        reject = shim_app.rest.requests[-1]
        assert (reject.path, reject.json()) == (reject_path, {"cause": "USER_BUSY"})
    assert len(offered) == 2
    paths = [r.path for r in shim_app.rest.requests]
    assert paths == [answer_path, reject_path], paths


async def test_plivo_make_call_adopts_the_call_uuid_and_hangs_up_with_it(shim_app: App) -> None:
    """Plivo's dial returns a request_uuid; the answered call's CallUUID (answer webhook,
    then the stream's start) becomes the session id, so REST hang-up names the real call."""
    gateway = shim_app.gateways["plivo"]
    request_uuid = secrets.token_hex(16)
    dial_path = f"/v1/Account/{PLIVO_AUTH_ID}/Call/"
    shim_app.rest.respond("POST", dial_path, 201, {"request_uuid": request_uuid})
    session = await gateway.make_call("+15551234")
    assert session.id == request_uuid  # all we know until the call is answered
    answer_url = dict(shim_app.rest.requests[-1].json())["answer_url"]
    pending = answer_url.split("?pending=")[1]
    async with _sim(shim_app, "plivo") as sim:  # Plivo fetches our answer URL on answer
        status, markup = await sim.post_answer_webhook(url=f"{sim.answer_url()}?pending={pending}")
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        bound = await _session(shim_app, "plivo", sim.call_id)
        assert bound is session
        assert session.id == sim.call_id
        assert gateway.get_session(request_uuid) is None
        assert gateway.list_sessions().count(session) == 1
        hangup_path = f"/v1/Account/{PLIVO_AUTH_ID}/Call/{sim.call_id}/"
        shim_app.rest.respond("DELETE", hangup_path, 204, None)
        await session.close()
        assert shim_app.rest.requests[-1].path == hangup_path
