"""LiveKitGateway in this process (sessions reachable as objects) against a real
livekit-server, with real rtc participants: text turns, transcript/metrics, participants
that never speak or leave mid-turn, rejection, max duration, provider errors."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import numpy as np
import pytest

from omnivoice_rtc import CallRejectedError, ConfigError, ParticipantInfo, SessionOptions
from omnivoice_rtc.agent.job import AgentSettings
from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.agent.livekit_session import GOODBYE_TEXT, LiveKitSession
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, encode_control
from omnivoice_rtc.pipelines.factory import PipelineSettings
from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter
from omnivoice_rtc.pipelines.local import LocalPipelineOptions, build_local
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.types import (
    AgentTranscript,
    Dtmf,
    ErrorDetail,
    Event,
    EventType,
    LiveKitCredentials,
    ProviderName,
    SessionEnded,
    ToolCall,
    Turn,
    WebRTCConfig,
    WebRTCGateway,
    WebRTCSession,
)
from tests.integration.agent.voice_client import VoiceClient, espeak_pcm, participant_token
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _config(server: LiveKitServer) -> WebRTCConfig:
    return WebRTCConfig(
        livekit=LiveKitCredentials(
            server_url=server.url, api_key=server.api_key, api_secret=server.api_secret
        ),
        agent_identity=f"agent-{secrets.token_hex(3)}",
    )


def _room() -> str:
    return f"gw-{secrets.token_hex(4)}"


@pytest.fixture
async def gateway(livekit_server: LiveKitServer) -> AsyncIterator[LiveKitGateway]:
    gw = LiveKitGateway(config=_config(livekit_server), drain_timeout_s=2.0)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def _client(server: LiveKitServer, room: str, identity: str) -> VoiceClient:
    client = VoiceClient(
        url=server.url,
        token=participant_token(server.api_key, server.api_secret, room=room, identity=identity),
    )
    await client.connect()
    return client


async def _session_for(
    gw: LiveKitGateway, identity: str, timeout_s: float = 30.0
) -> LiveKitSession:
    for _ in range(int(timeout_s * 10)):
        session = gw.get_session(identity)
        if isinstance(session, LiveKitSession) and session.agent_session is not None:
            return session
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no session for {identity}")


def _omnivoice_tasks(
    session: LiveKitSession, before: set[asyncio.Task[object]]
) -> list[asyncio.Task[object]]:
    """omnivoice tasks still running that this test started (``before``: the tasks running
    when it began; the loop is the session's, shared with other tests' servers)."""
    return [
        t
        for t in asyncio.all_tasks() - before
        if not t.done()
        and t.get_name().startswith("omnivoice.")
        and t.get_name() != "omnivoice.gateway." + session.room_name
    ]


async def test_text_turn_fills_transcript_and_metrics(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    room = _room()
    await gateway.join_room(room)
    assert gateway.current_room() == room
    client = await _client(livekit_server, room, "texter")
    try:
        session = await _session_for(gateway, "texter")
        assert isinstance(gateway, WebRTCGateway)
        assert isinstance(session, WebRTCSession)
        assert gateway.name is ProviderName.LIVEKIT
        assert gateway.list_sessions() == [session]
        assert session.participant.identity == "texter"
        assert session.room_name == room
        assert session.agent_identity.startswith("agent-")  # _config() identity
        token = gateway.generate_client_token(room, "guest-1", "Guest")
        assert token.count(".") == 2
        await client.wait_for_event(EventType.SESSION_STARTED)
        await session.send_text("hello there")
        agent = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=90)
        assert agent.event.data_as(AgentTranscript).text == "Hello! You said: hello there."
        await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=90)
        assert client.agent_speech_seconds() > 0.5
        await session.close()
        turns = session.transcript()
        assert [t.role for t in turns] == ["user", "agent"]
        assert turns[1].text == "Hello! You said: hello there."
        metrics = session.metrics()
        assert metrics.turn_count == 2
        assert metrics.audio_bytes_sent > 0
        assert metrics.agent_speech_duration_ms > 0
        assert metrics.session_duration_ms > 0
        ended = await client.wait_for_event(EventType.SESSION_ENDED, timeout_s=10)
        report = ended.event.data_as(SessionEnded)
        assert report.metrics.turn_count == 2
        assert [t.role for t in report.transcript] == ["user", "agent"]
        kinds = [e.type async for e in session.events()]
        assert kinds[0] is EventType.SESSION_STARTED
        assert kinds[-1] is EventType.SESSION_ENDED
        assert session.pending_tasks() == []
    finally:
        await client.aclose()


async def test_silent_participant_who_leaves_ends_cleanly(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    before = asyncio.all_tasks()
    room = _room()
    await gateway.join_room(room)
    client = await _client(livekit_server, room, "silent")
    session = await _session_for(gateway, "silent")
    await client.wait_for_event(EventType.SESSION_STARTED)
    await asyncio.sleep(1.0)
    await client.aclose()
    await asyncio.wait_for(session.wait_closed(), timeout=20)
    assert session.transcript() == []
    assert session.pending_tasks() == []
    assert _omnivoice_tasks(session, before) == []
    assert gateway.get_session("silent") is None


async def test_participant_leaving_mid_turn_ends_cleanly(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    before = asyncio.all_tasks()
    room = _room()
    await gateway.join_room(room)
    client = await _client(livekit_server, room, "leaver")
    session = await _session_for(gateway, "leaver")
    await client.wait_for_event(EventType.SESSION_STARTED)
    pcm = espeak_pcm("I would like to order a large pizza with extra cheese please")
    await client.say(pcm, wait=False)
    await client.wait_for_event(EventType.USER_SPEECH_START, timeout_s=20)
    await client.aclose()  # gone while still talking
    await asyncio.wait_for(session.wait_closed(), timeout=20)
    assert session.pending_tasks() == []
    assert _omnivoice_tasks(session, before) == []
    kinds = [e.type async for e in session.events()]
    assert kinds[-1] is EventType.SESSION_ENDED


async def test_tool_calls_an_llm_provider_reports_are_recorded(
    livekit_server: LiveKitServer,
) -> None:
    """An LLMProvider runs its tools itself and returns them with the answer: the session
    records each as a tool_call event, attached to the agent turn and counted."""
    booked = ToolCall(name="book_table", arguments={"guests": 2}, result="booked", duration_ms=4)

    def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        return "Your table is booked.", [booked]

    def parts() -> PipelineParts:
        return dataclasses.replace(build_local(), llm=LLMProviderAdapter(generate))

    gw = LiveKitGateway(config=_config(livekit_server), parts_factory=parts, drain_timeout_s=1.0)
    room = _room()
    await gw.join_room(room)
    client = await _client(livekit_server, room, "diner")
    try:
        session = await _session_for(gw, "diner")
        await client.wait_for_event(EventType.SESSION_STARTED)
        await session.send_text("a table for two")
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=90)
        assert tool.event.data == booked
        said = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=90)
        assert said.event.data_as(AgentTranscript).text == "Your table is booked."
        await session.close()
        agent_turns = [t for t in session.transcript() if t.role == "agent"]
        assert [t.tool_calls for t in agent_turns] == [[booked]]
        assert session.metrics().tool_call_count == 1
    finally:
        await client.aclose()
        await gw.stop()


async def test_rejected_participant_gets_no_session(livekit_server: LiveKitServer) -> None:
    gw = LiveKitGateway(config=_config(livekit_server), drain_timeout_s=1.0)
    seen: list[ParticipantInfo] = []

    def handler(info: ParticipantInfo) -> None:
        seen.append(info)
        if info.identity.startswith("blocked"):
            raise CallRejectedError("not on the list")

    gw.on_participant_joined(handler)
    room = _room()
    await gw.join_room(room)
    blocked = await _client(livekit_server, room, "blocked-1")
    allowed = await _client(livekit_server, room, "allowed-1")
    try:
        await _session_for(gw, "allowed-1")
        assert gw.get_session("blocked-1") is None
        assert {i.identity for i in seen} == {"blocked-1", "allowed-1"}
        assert all(i.room_name == room for i in seen)
    finally:
        await blocked.aclose()
        await allowed.aclose()
        await gw.stop()
    assert gw.current_room() == ""
    assert gw.list_sessions() == []


async def test_max_session_duration_says_goodbye_then_closes(livekit_server: LiveKitServer) -> None:
    settings = AgentSettings(session=SessionOptions(max_session_duration=timedelta(seconds=3)))
    gw = LiveKitGateway(config=_config(livekit_server), settings=settings, drain_timeout_s=1.0)
    room = _room()
    await gw.join_room(room)
    client = await _client(livekit_server, room, "long-talker")
    try:
        session = await _session_for(gw, "long-talker")
        ended = await client.wait_for_event(EventType.SESSION_ENDED, timeout_s=40)
        report = ended.event.data_as(SessionEnded)
        assert report.reason == "max_duration"
        assert GOODBYE_TEXT in [t.text for t in report.transcript]
        assert client.agent_speech_seconds() > 0.5
        await asyncio.wait_for(session.wait_closed(), timeout=10)
        assert session.pending_tasks() == []
    finally:
        await client.aclose()
        await gw.stop()


async def test_provider_error_becomes_error_event_and_spares_other_sessions(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    # a TTS "provider" that always fails: espeak replaced by /bin/false
    broken = AgentSettings(
        pipeline=PipelineSettings(local=LocalPipelineOptions(espeak_bin="false"))
    )
    bad_gw = LiveKitGateway(config=_config(livekit_server), settings=broken, drain_timeout_s=1.0)
    bad_room, good_room = _room(), _room()
    await bad_gw.join_room(bad_room)
    await gateway.join_room(good_room)
    bad = await _client(livekit_server, bad_room, "unlucky")
    good = await _client(livekit_server, good_room, "lucky")
    try:
        bad_session = await _session_for(bad_gw, "unlucky")
        good_session = await _session_for(gateway, "lucky")
        await bad.wait_for_event(EventType.SESSION_STARTED)
        await good.wait_for_event(EventType.SESSION_STARTED)
        await bad_session.send_text("hello there")
        await good_session.send_text("hello there")
        error = await bad.wait_for_event(EventType.ERROR, timeout_s=90)
        assert error.event.data_as(ErrorDetail).source == "tts"
        assert "espeak-ng" in (error.event.error or "")
        await good.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=90)
        assert good.agent_speech_seconds() > 0.5
        assert bad.agent_speech_seconds() == 0.0
        assert not good_session.closed
        assert bad_session.metrics().error_count >= 1
    finally:
        await bad.aclose()
        await good.aclose()
        await bad_gw.stop()


async def test_bad_configuration_fails_at_start(livekit_server: LiveKitServer) -> None:
    settings = AgentSettings(
        pipeline=PipelineSettings(local=LocalPipelineOptions(espeak_bin="no-such-espeak"))
    )
    gw = LiveKitGateway(config=_config(livekit_server), settings=settings)
    with pytest.raises(ConfigError, match="OMNIVOICE_ESPEAK_BIN"):
        await gw.start()


async def test_control_topic_say_and_close(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    room = _room()
    await gateway.join_room(room)
    client = await _client(livekit_server, room, "remote-control")
    try:
        session = await _session_for(gateway, "remote-control")
        await client.wait_for_event(EventType.SESSION_STARTED)
        publish = client.room.local_participant.publish_data
        await publish(b"not json", reliable=True, topic=CONTROL_TOPIC)  # ignored
        await publish(
            encode_control(ControlCommand(type="say", text="hello there")),
            reliable=True,
            topic=CONTROL_TOPIC,
        )
        agent = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=90)
        assert agent.event.data_as(AgentTranscript).text == "Hello! You said: hello there."
        await publish(
            encode_control(ControlCommand(type="close", participant="remote-control")),
            reliable=True,
            topic=CONTROL_TOPIC,
        )
        ended = await client.wait_for_event(EventType.SESSION_ENDED, timeout_s=60)
        assert ended.event.data_as(SessionEnded).reason == "user_initiated"
        await asyncio.wait_for(session.wait_closed(), timeout=30)
        assert session.pending_tasks() == []
    finally:
        await client.aclose()


async def test_send_audio_reaches_the_participant(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    room = _room()
    await gateway.join_room(room)
    client = await _client(livekit_server, room, "listener")
    try:
        session = await _session_for(gateway, "listener")
        await client.wait_for_event(EventType.SESSION_STARTED)
        t = np.arange(24000) / 24000
        tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)  # 1 s, 440 Hz, 24 kHz
        await session.send_audio(tone.tobytes(), sample_rate_hz=24000)
        for _ in range(100):
            if client.agent_speech_seconds() > 0.5:
                break
            await asyncio.sleep(0.1)
        assert client.agent_speech_seconds() > 0.5
        assert session.transcript() == []  # played audio is not a conversation turn
        with pytest.raises(ValueError, match="even length"):
            await session.send_audio(b"\x00\x01\x02")
    finally:
        await client.aclose()


async def test_dtmf_from_the_participant_becomes_a_dtmf_event(
    livekit_server: LiveKitServer, gateway: LiveKitGateway
) -> None:
    room = _room()
    await gateway.join_room(room)
    client = await _client(livekit_server, room, "keypad")
    try:
        session = await _session_for(gateway, "keypad")
        await client.wait_for_event(EventType.SESSION_STARTED)
        await client.room.local_participant.publish_dtmf(code=5, digit="5")
        dtmf = await client.wait_for_event(EventType.DTMF, timeout_s=60)
        assert dtmf.event.data == Dtmf(digit="5")
        assert dtmf.event.to_dict()["data"] == {"digit": "5"}
        assert [e.data async for e in _until(session, EventType.DTMF)] == [Dtmf(digit="5")]
    finally:
        await client.aclose()


async def _until(session: LiveKitSession, kind: EventType) -> AsyncIterator[Event]:
    async for event in session.events():
        if event.type is kind:
            yield event
            return


async def test_an_agent_factory_in_process_greets_and_counts_its_tool(
    livekit_server: LiveKitServer,
) -> None:
    """LiveKitGateway(agent_factory=...): your agent per participant in this process; the
    session object shows the greeting and the tool call in its transcript and metrics."""
    from omnivoice_rtc import AgentSpec, CallContext
    from tests.agents import pizza_shop

    seen: list[CallContext] = []

    async def build(ctx: CallContext) -> AgentSpec:
        seen.append(ctx)
        return AgentSpec(tools=[pizza_shop.order], greeting="Hello from the gateway.")

    gw = LiveKitGateway(config=_config(livekit_server), agent_factory=build, drain_timeout_s=1.0)
    room = _room()
    await gw.join_room(room)
    client = await _client(livekit_server, room, "factory-caller")
    try:
        session = await _session_for(gw, "factory-caller")
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: e.data_as(AgentTranscript).text == "Hello from the gateway.",
        )
        await session.send_text("I want to order a pizza")
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: e.data_as(AgentTranscript).text == pizza_shop.TOOL_RESULT,
        )
        assert [(c.route, c.participant_identity) for c in seen] == [("webrtc", "factory-caller")]
        assert session.metrics().tool_call_count == 1
        turns = session.transcript()
        assert (turns[0].role, turns[0].text) == ("agent", "Hello from the gateway.")
        answered = [t for t in turns if t.tool_calls]
        assert [c.name for c in answered[0].tool_calls] == ["order"]
        assert answered[0].text == pizza_shop.TOOL_RESULT
    finally:
        await client.aclose()
        await gw.stop()
