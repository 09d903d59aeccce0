"""Gemini Live through the real livekit google plugin and google-genai, pointed at the
loopback fake (real TLS WebSocket on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from livekit.agents import Agent, AgentSession, llm

from omnivoice_rtc.pipelines.realtime import build_realtime
from omnivoice_rtc.types import FunctionDeclaration, RealtimeConfig
from tests.fakes.gemini_live import FakeToolCall, GeminiFakeOptions, GeminiLiveFake

from ._helpers import (
    QueueAudioInput,
    Recorder,
    collect_generation,
    push_utterance,
    rms,
    speech_pcm,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

LIGHTS = FunctionDeclaration(
    name="set_lights",
    description="Switch the lights",
    parameters={
        "type": "object",
        "properties": {"on": {"type": "boolean"}},
        "required": ["on"],
    },
)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[GeminiLiveFake]:
    options = GeminiFakeOptions(
        user_transcript="turn on the lights",
        reply_text=lambda heard: f"Heard: {heard}.",
        tool_call=FakeToolCall("set_lights", {"on": True}, call_id="fc_lights_1"),
        tool_reply="Done: {output}.",
    )
    async with GeminiLiveFake(options) as server:
        # google-genai dials wss:// and reads SSL_CERT_FILE when its client is created
        monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
        yield server


async def test_spoken_turn_gets_transcript_and_audio(fake: GeminiLiveFake) -> None:
    parts = build_realtime(
        RealtimeConfig(
            provider="gemini",
            api_key="g-test",
            voice="Kore",
            instructions="Be brief.",
            base_url=fake.base_url,
        )
    )
    session = parts.llm.session()
    generations = Recorder(session, "generation_created")
    transcripts = Recorder(session, "input_audio_transcription_completed")
    errors = Recorder(session, "error")
    try:
        await fake.wait_for_server("setupComplete")
        speech_s = push_utterance(session.push_audio, speech_pcm("turn on the lights"))
        gen = await generations.wait()
        text, audio, rate = await collect_generation(gen)
        heard = await transcripts.wait(lambda ev: ev.is_final)
    finally:
        await session.aclose()
        await parts.llm.aclose()

    assert heard.transcript == "turn on the lights"
    assert text == "Heard: turn on the lights."
    assert rate == 24000
    assert len(audio) / 2 / rate > 0.5
    assert rms(audio) > 1000
    assert errors.events == []
    [setup] = fake.setups
    assert setup["model"] == "models/gemini-2.5-flash-native-audio-preview-12-2025"
    assert setup["systemInstruction"]["parts"][0]["text"] == "Be brief."
    voice = setup["generationConfig"]["speechConfig"]["voice_config"]
    assert voice["prebuilt_voice_config"]["voice_name"] == "Kore"
    assert fake.connections[0]["headers"]["x-goog-api-key"] == "g-test"
    # 48 kHz speech arrives resampled to 16 kHz s16le
    assert fake.audio_bytes_received >= int(speech_s * 16000 * 2 * 0.9)


async def test_tool_call_round_trip_through_an_agent_session(fake: GeminiLiveFake) -> None:
    calls: list[tuple[str, str, str]] = []

    def on_function_call(call_id: str, name: str, args: str) -> str:
        calls.append((call_id, name, args))
        return "lights are on"

    parts = build_realtime(
        RealtimeConfig(
            provider="gemini",
            api_key="g-test",
            base_url=fake.base_url,
            functions=[LIGHTS],
            on_function_call=on_function_call,
        )
    )
    session: AgentSession[None] = AgentSession(llm=parts.llm)
    mic = QueueAudioInput()
    session.input.audio = mic
    items = Recorder(session, "conversation_item_added")
    try:
        await session.start(Agent(instructions=parts.instructions, tools=parts.tools))
        # the plugin declares tools in the setup (reconnecting if they change): wait for a
        # completed setup that carries them
        await fake.wait_until(
            lambda: (
                bool(fake.setups)
                and "tools" in fake.setups[-1]
                and fake.ready_setups() == len(fake.setups)
            )
        )
        push_utterance(mic.push, speech_pcm("turn on the lights"))
        answer = await items.wait(
            lambda ev: isinstance(ev.item, llm.ChatMessage) and ev.item.role == "assistant"
        )
    finally:
        await session.aclose()
        await parts.llm.aclose()

    assert calls == [("fc_lights_1", "set_lights", '{"on": true}')]
    [response] = fake.tool_responses
    assert response["id"] == "fc_lights_1"
    assert response["name"] == "set_lights"
    assert json.dumps(response["response"]).find("lights are on") >= 0
    assert [t.kind for t in fake.turns] == ["tool_call", "message"]
    assert answer.item.text_content == fake.turns[1].text
    assert answer.item.text_content.startswith("Done: ")
    assert "lights are on" in answer.item.text_content
    declared = fake.setups[-1]["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "set_lights"


async def test_setup_refused_is_reported_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    options = GeminiFakeOptions(close_on_setup=(1008, "models/nope is not found"))
    async with GeminiLiveFake(options) as fake:
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)
        parts = build_realtime(
            RealtimeConfig(provider="gemini", api_key="g", model="nope", base_url=fake.base_url)
        )
        session = parts.llm.session()
        errors = Recorder(session, "error")
        try:
            error = await errors.wait(timeout_s=20)
        finally:
            await session.aclose()
            await parts.llm.aclose()
    assert isinstance(error, llm.RealtimeModelError)
    assert "1008" in str(error.error)


async def test_endpoint_from_google_gemini_base_url(
    fake: GeminiLiveFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no RealtimeConfig.base_url, google-genai's own GOOGLE_GEMINI_BASE_URL applies."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    parts = build_realtime(RealtimeConfig(provider="gemini", api_key="g-env"))
    session = parts.llm.session()
    try:
        await fake.wait_for_server("setupComplete")
    finally:
        await session.aclose()
        await parts.llm.aclose()
    assert fake.connections[0]["headers"]["x-goog-api-key"] == "g-env"


async def test_speech_during_a_model_turn_interrupts_it(fake: GeminiLiveFake) -> None:
    """Barge-in: new speech while the fake streams a paced turn stops the turn, the fake
    sends ``interrupted`` and the plugin reports the user's speech start."""
    fake.options.reply_text = "word " * 60
    fake.options.pacing = 1.0
    parts = build_realtime(RealtimeConfig(provider="gemini", api_key="g", base_url=fake.base_url))
    session = parts.llm.session()
    speech_started = Recorder(session, "input_speech_started")
    generations = Recorder(session, "generation_created")
    try:
        await fake.wait_for_server("setupComplete")
        push_utterance(session.push_audio, speech_pcm("tell me a long story"))
        await generations.wait()  # the plugin signals a speech start as a generation begins
        before = len(speech_started.events)
        push_utterance(session.push_audio, speech_pcm("stop"), silence_ms=0)
        await fake.wait_for_server("interrupted")
        await speech_started.wait(lambda _ev: len(speech_started.events) > before)
    finally:
        await session.aclose()
        await parts.llm.aclose()
    assert fake.turns[0].status == "interrupted"
    full_reply_bytes = len("word " * 60) * fake.options.tone_ms_per_char * 48
    assert fake.turns[0].audio_bytes < full_reply_bytes
