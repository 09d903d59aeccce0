"""The text pipeline (openai STT → LLM → TTS) through the real livekit openai plugin,
pointed at the loopback OpenAI HTTP fake (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession, APIConnectOptions, APIStatusError, llm

from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.pipelines.realtime import build_function_tools
from omnivoice_rtc.pipelines.text import build_text
from omnivoice_rtc.types import (
    FunctionDeclaration,
    LLMOptions,
    STTOptions,
    TextPipelineOptions,
    ToolCall,
    TTSOptions,
    Turn,
)
from tests.fakes.openai_http import FakeToolCall, OpenAIHTTPFake, OpenAIHTTPFakeOptions

from ._helpers import Recorder, rms, speech_pcm

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SENTENCE = "what is the weather in paris"


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIHTTPFake]:
    options = OpenAIHTTPFakeOptions(
        transcript=SENTENCE,
        reply=lambda heard: f"You said {heard}.",
        tool_call=FakeToolCall("get_weather", {"city": "Paris"}, call_id="call_w1"),
        tool_reply="Paris: {output}.",
    )
    async with OpenAIHTTPFake(options) as server:
        yield server


def _options(base_url: str) -> TextPipelineOptions:
    return TextPipelineOptions(
        stt=STTOptions(provider="openai", api_key="sk-test", base_url=base_url, language="en"),
        llm=LLMOptions(provider="openai", api_key="sk-test", base_url=base_url, model="my-llm"),
        tts=TTSOptions(provider="openai", api_key="sk-test", base_url=base_url, voice_id="alloy"),
    )


async def _drain(model: llm.LLM[Any], ctx: llm.ChatContext) -> None:
    async with model.chat(chat_ctx=ctx, conn_options=APIConnectOptions(max_retry=0)) as stream:
        async for _ in stream:
            pass


async def _close(parts: PipelineParts) -> None:
    for part in (parts.stt, parts.llm, parts.tts):
        await part.aclose()


async def test_stt_llm_tts_streams(fake: OpenAIHTTPFake) -> None:
    fake.options.tool_call = None
    parts = build_text(_options(fake.base_url))
    try:
        pcm = speech_pcm(SENTENCE)
        frame = rtc.AudioFrame(
            data=pcm, sample_rate=48000, num_channels=1, samples_per_channel=len(pcm) // 2
        )
        recognized = await parts.stt.recognize([frame])
        assert recognized.alternatives[0].text == SENTENCE

        ctx = llm.ChatContext.empty()
        ctx.add_message(role="user", content=recognized.alternatives[0].text)
        reply = ""
        async with parts.llm.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    reply += chunk.delta.content
        assert reply == f"You said {SENTENCE}."

        frames = [ev.frame async for ev in parts.tts.synthesize(reply)]
        audio = b"".join(f.data.tobytes() for f in frames)
        assert frames[0].sample_rate == 24000
        assert len(audio) / 2 / 24000 > 0.5
        assert rms(audio) > 1000
    finally:
        await _close(parts)

    # the STT uploaded the speech as a WAV of the same length
    [upload] = fake.requests_to("/v1/audio/transcriptions")
    with wave.open(io.BytesIO(upload.body["file"]["bytes"])) as wav:
        uploaded_s = wav.getnframes() / wav.getframerate()
    assert abs(uploaded_s - len(pcm) / 2 / 48000) < 0.05
    assert upload.body["model"] == "gpt-4o-mini-transcribe"
    [chat] = fake.requests_to("/v1/chat/completions")
    assert chat.body["model"] == "my-llm"
    assert chat.body["stream"] is True
    assert chat.headers["Authorization"] == "Bearer sk-test"
    [speech] = fake.requests_to("/v1/audio/speech")
    assert speech.body["input"] == reply
    assert speech.body["voice"] == "alloy"
    assert speech.body["response_format"] == "pcm"


async def test_tool_call_round_trip_through_an_agent_session(fake: OpenAIHTTPFake) -> None:
    calls: list[tuple[str, str, str]] = []

    def on_function_call(call_id: str, name: str, args: str) -> str:
        calls.append((call_id, name, args))
        return "sunny, 21 C"

    parts = build_text(_options(fake.base_url))
    tools: list[llm.Tool | llm.Toolset] = [
        *build_function_tools(
            [
                FunctionDeclaration(
                    name="get_weather",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
                )
            ],
            on_function_call,
        )
    ]
    session: AgentSession[None] = AgentSession(llm=parts.llm)
    items = Recorder(session, "conversation_item_added")
    try:
        await session.start(Agent(instructions="You are a weather bot.", tools=tools))
        session.generate_reply(user_input="weather in paris?")
        answer = await items.wait(
            lambda ev: isinstance(ev.item, llm.ChatMessage) and ev.item.role == "assistant"
        )
    finally:
        await session.aclose()
        await _close(parts)

    assert calls == [("call_w1", "get_weather", '{"city": "Paris"}')]
    assert answer.item.text_content == "Paris: sunny, 21 C."
    first, second = fake.requests_to("/v1/chat/completions")
    assert first.body["tools"][0]["function"]["name"] == "get_weather"
    tool_msg = second.body["messages"][-1]
    assert tool_msg == {"role": "tool", "tool_call_id": "call_w1", "content": "sunny, 21 C"}
    assert json.loads(second.body["messages"][-2]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris"
    }


async def test_llm_provider_drives_an_agent_session(fake: OpenAIHTTPFake) -> None:
    seen: list[tuple[str, list[Turn]]] = []

    async def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        seen.append((input, history))
        return f"Custom answer to: {input}", []

    parts = build_text(_options(fake.base_url), llm_provider=generate)
    session: AgentSession[None] = AgentSession(llm=parts.llm)
    items = Recorder(session, "conversation_item_added")
    try:
        await session.start(Agent(instructions="ignored by the provider"))
        session.generate_reply(user_input="first question")
        await items.wait(lambda ev: getattr(ev.item, "role", None) == "assistant")
        session.generate_reply(user_input="second question")
        answer = await items.wait(
            lambda ev: (
                getattr(ev.item, "role", None) == "assistant"
                and "second" in (ev.item.text_content or "")
            )
        )
    finally:
        await session.aclose()
        await _close(parts)

    assert answer.item.text_content == "Custom answer to: second question"
    assert [s[0] for s in seen] == ["first question", "second question"]
    assert [(t.role, t.text) for t in seen[1][1]] == [
        ("user", "first question"),
        ("agent", "Custom answer to: first question"),
    ]
    assert fake.requests_to("/v1/chat/completions") == []


async def test_injected_http_error_reaches_the_caller(fake: OpenAIHTTPFake) -> None:
    fake.options.tool_call = None
    fake.inject_error("/v1/chat/completions", status=429, message="Rate limit reached", times=1)
    parts = build_text(_options(fake.base_url))
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="user", content="hi")
    try:
        with pytest.raises(APIStatusError) as info:
            await _drain(parts.llm, ctx)
    finally:
        await _close(parts)
    assert info.value.status_code == 429
    assert "Rate limit reached" in str(info.value)
