"""OpenAI Realtime through the real livekit openai plugin, pointed at the loopback fake
(real WebSocket on 127.0.0.1; the fake speaks the GA Realtime protocol)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from livekit.agents import Agent, AgentSession, llm

from omnivoice_rtc.pipelines.realtime import build_realtime
from omnivoice_rtc.types import FunctionDeclaration, RealtimeConfig
from tests.fakes.openai_realtime import FakeToolCall, OpenAIRealtimeFake, RealtimeFakeOptions

from ._helpers import Recorder, collect_generation, push_utterance, rms, speech_pcm

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WEATHER = FunctionDeclaration(
    name="get_weather",
    description="Current weather in a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIRealtimeFake]:
    options = RealtimeFakeOptions(
        user_transcript="what is the weather in paris",
        reply_text=lambda heard: f"You asked: {heard}.",
        tool_call=FakeToolCall("get_weather", {"city": "Paris"}, call_id="call_weather_1"),
        tool_reply="In Paris it is {output}.",
    )
    async with OpenAIRealtimeFake(options) as server:
        yield server


async def test_spoken_turn_gets_transcript_and_audio(fake: OpenAIRealtimeFake) -> None:
    parts = build_realtime(
        RealtimeConfig(provider="openai", api_key="sk-test", voice="alloy", base_url=fake.base_url)
    )
    model = parts.llm
    session = model.session()
    generations = Recorder(session, "generation_created")
    transcripts = Recorder(session, "input_audio_transcription_completed")
    errors = Recorder(session, "error")
    try:
        speech_s = push_utterance(session.push_audio, speech_pcm("what is the weather in paris"))
        heard = await transcripts.wait(lambda ev: ev.is_final)
        assert heard.transcript == "what is the weather in paris"
        gen = await generations.wait()
        text, audio, rate = await collect_generation(gen)
        assert text == "You asked: what is the weather in paris."
        assert rate == 24000
        assert len(audio) / 2 / rate > 0.5
        assert rms(audio) > 1000
        assert errors.events == []
    finally:
        await session.aclose()
        await model.aclose()

    # what the plugin put on the wire
    [conn] = fake.connections
    assert conn.path == "/v1/realtime"
    assert conn.query["model"] == "gpt-realtime"
    assert conn.headers["Authorization"] == "Bearer sk-test"
    update = next(e for e in fake.client_events if e["type"] == "session.update")
    assert update["session"]["audio"]["output"]["voice"] == "alloy"
    assert update["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    # 48 kHz speech was resampled to 24 kHz s16le: ~2 bytes per sample at 24 kHz
    assert fake.audio_bytes_received >= int(speech_s * 24000 * 2 * 0.9)
    [response] = fake.responses
    assert response.trigger == "server_vad"
    assert response.status == "completed"


async def test_tool_call_round_trip_through_an_agent_session(fake: OpenAIRealtimeFake) -> None:
    calls: list[tuple[str, str, str]] = []

    async def on_function_call(call_id: str, name: str, args: str) -> dict[str, object]:
        calls.append((call_id, name, args))
        return {"temperature_c": 21, "sky": "clear"}

    parts = build_realtime(
        RealtimeConfig(
            provider="openai",
            api_key="sk-test",
            base_url=fake.base_url,
            instructions="You are a weather bot.",
            functions=[WEATHER],
            on_function_call=on_function_call,
        )
    )
    session: AgentSession[None] = AgentSession(llm=parts.llm)
    items = Recorder(session, "conversation_item_added")
    try:
        await session.start(Agent(instructions=parts.instructions, tools=parts.tools))
        session.generate_reply(user_input="What is the weather in Paris?")
        answer = await items.wait(
            lambda ev: isinstance(ev.item, llm.ChatMessage) and ev.item.role == "assistant"
        )
    finally:
        await session.aclose()
        await parts.llm.aclose()

    assert calls == [("call_weather_1", "get_weather", '{"city": "Paris"}')]
    [output] = fake.function_outputs
    assert output["call_id"] == "call_weather_1"
    assert json.loads(output["output"]) == {"temperature_c": 21, "sky": "clear"}
    expected = 'In Paris it is {"temperature_c": 21, "sky": "clear"}.'
    assert answer.item.text_content == expected
    assert [r.kind for r in fake.responses] == ["function_call", "message"]
    tools = [
        e for e in fake.client_events if e["type"] == "session.update" and "tools" in e["session"]
    ]
    assert tools[-1]["session"]["tools"][0]["name"] == "get_weather"
    assert tools[-1]["session"]["tools"][0]["parameters"] == WEATHER.parameters


async def test_failed_response_is_reported_as_a_recoverable_error() -> None:
    async with OpenAIRealtimeFake(RealtimeFakeOptions(fail_responses=1)) as fake:
        parts = build_realtime(
            RealtimeConfig(provider="openai", api_key="k", base_url=fake.base_url)
        )
        session = parts.llm.session()
        errors = Recorder(session, "error")
        try:
            push_utterance(session.push_audio, speech_pcm("hello"))
            error = await errors.wait()
        finally:
            await session.aclose()
            await parts.llm.aclose()
    assert error.recoverable is True
    assert "response failed" in str(error.error)
    assert fake.responses[0].status == "failed"


async def test_endpoint_from_openai_base_url(
    fake: OpenAIRealtimeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no RealtimeConfig.base_url, the plugin's own OPENAI_BASE_URL applies."""
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    parts = build_realtime(RealtimeConfig(provider="openai"))
    session = parts.llm.session()
    try:
        await fake.wait_for_client_event("session.update")
    finally:
        await session.aclose()
        await parts.llm.aclose()
    assert fake.connections[0].headers["Authorization"] == "Bearer sk-env"


async def test_speech_during_a_response_cancels_it() -> None:
    """Barge-in: the fake's server VAD hears new speech while it streams a paced answer,
    cancels the response (status cancelled, reason turn_detected) and the plugin reports
    the user's speech start."""
    options = RealtimeFakeOptions(reply_text="word " * 60, pacing=1.0)
    async with OpenAIRealtimeFake(options) as fake:
        parts = build_realtime(
            RealtimeConfig(provider="openai", api_key="k", base_url=fake.base_url)
        )
        session = parts.llm.session()
        speech_started = Recorder(session, "input_speech_started")
        try:
            push_utterance(session.push_audio, speech_pcm("tell me a long story"))
            await fake.wait_for_server_event("response.output_audio.delta")
            push_utterance(session.push_audio, speech_pcm("stop"), silence_ms=0)
            done = await fake.wait_for_server_event("response.done")
            await speech_started.wait(lambda _ev: len(speech_started.events) >= 2)
        finally:
            await session.aclose()
            await parts.llm.aclose()
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "turn_detected"
    assert fake.responses[0].status == "cancelled"
    full_reply_bytes = len("word " * 60) * options.tone_ms_per_char * 48
    assert fake.responses[0].audio_bytes < full_reply_bytes
