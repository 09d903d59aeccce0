"""The loopback fakes against the official type definitions of the real APIs.

Every server event the OpenAI Realtime fake sent in a full conversation (audio turn,
tool call, barge-in, protocol errors) must validate as ``openai.types.realtime.
RealtimeServerEvent``; every chat-completion chunk and transcription of the HTTP fake as
the ``openai`` types; every Gemini Live message as google-genai's ``LiveServerMessage``
(which forbids unknown fields). A fake that drifts from the wire format fails here.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import aiohttp
import openai
import pytest
from google.genai import types as genai_types
from livekit.agents import Agent, AgentSession
from openai.types.audio import Transcription, TranscriptionVerbose
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
)
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from omnivoice_rtc.pipelines.realtime import build_realtime
from omnivoice_rtc.types import FunctionDeclaration, RealtimeConfig
from tests.fakes.gemini_live import GeminiFakeOptions, GeminiLiveFake
from tests.fakes.openai_http import FakeToolCall, OpenAIHTTPFake, OpenAIHTTPFakeOptions
from tests.fakes.openai_realtime import OpenAIRealtimeFake, RealtimeFakeOptions

from ._helpers import QueueAudioInput, Recorder, push_utterance, speech_pcm

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SERVER_EVENT: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


async def test_openai_realtime_fake_events_match_the_openai_types() -> None:
    options = RealtimeFakeOptions(tool_call=FakeToolCall("lookup", {"q": "x"}))
    async with OpenAIRealtimeFake(options) as fake:
        parts = build_realtime(
            RealtimeConfig(
                provider="openai",
                api_key="k",
                base_url=fake.base_url,
                functions=[FunctionDeclaration(name="lookup")],
                on_function_call=lambda *_: "found",
            )
        )
        session: AgentSession[None] = AgentSession(llm=parts.llm)
        mic = QueueAudioInput()
        session.input.audio = mic
        items = Recorder(session, "conversation_item_added")
        try:
            await session.start(Agent(instructions="x", tools=parts.tools))
            push_utterance(mic.push, speech_pcm("look it up"))
            await items.wait(lambda ev: getattr(ev.item, "role", None) == "assistant")
        finally:
            await session.aclose()
            await parts.llm.aclose()

        # protocol errors and a cancelled response, from a raw WebSocket client
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(fake.ws_url, headers={"Authorization": "Bearer k"}) as ws,
        ):
            fake.options.latency_ms = 10_000  # keeps the raw response in progress until cancelled
            for event in (
                {"type": "no.such.event"},
                {"type": "response.cancel"},
                {"type": "input_audio_buffer.commit"},
                {"type": "response.create"},
                {"type": "response.cancel"},
            ):
                await ws.send_str(json.dumps(event))
            await fake.wait_for_server_event(
                "response.done", predicate=lambda e: e["response"]["status"] == "cancelled"
            )

    types_seen = set()
    for event in fake.server_events:
        SERVER_EVENT.validate_python(event)
        types_seen.add(event["type"])
    assert {
        "session.created",
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "conversation.item.input_audio_transcription.completed",
        "response.function_call_arguments.done",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.done",
        "error",
    } <= types_seen
    codes = [e["error"]["code"] for e in fake.server_events if e["type"] == "error"]
    assert codes == [
        "invalid_value",
        "response_cancel_not_active",
        "input_audio_buffer_commit_empty",
    ]


async def test_openai_http_fake_matches_the_openai_types() -> None:
    options = OpenAIHTTPFakeOptions(
        reply="Plain answer.", tool_call=FakeToolCall("lookup", {"q": "x"}), api_key="sk-right"
    )
    tools: list[ChatCompletionFunctionToolParam] = [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    ]
    messages: list[Any] = [{"role": "user", "content": "hi"}]
    async with OpenAIHTTPFake(options) as fake:
        client = openai.AsyncOpenAI(api_key="sk-right", base_url=fake.base_url, max_retries=0)
        try:
            completion = await client.chat.completions.create(
                model="m", messages=messages, tools=tools
            )
            ChatCompletion.model_validate(completion.model_dump())
            assert completion.choices[0].finish_reason == "tool_calls"
            assert completion.choices[0].message.tool_calls is not None

            stream = await client.chat.completions.create(
                model="m", messages=messages, stream=True, stream_options={"include_usage": True}
            )
            chunks = [chunk async for chunk in stream]
            for chunk in chunks:
                ChatCompletionChunk.model_validate(chunk.model_dump())
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text == "Plain answer."
            assert chunks[-1].usage is not None

            wav = b"RIFF" + bytes(100)
            plain = await client.audio.transcriptions.create(
                model="whisper-1", file=("a.wav", wav, "audio/wav")
            )
            Transcription.model_validate(plain.model_dump())
            verbose = await client.audio.transcriptions.create(
                model="whisper-1", file=("a.wav", wav, "audio/wav"), response_format="verbose_json"
            )
            TranscriptionVerbose.model_validate(verbose.model_dump())

            speech = await client.audio.speech.create(
                model="tts-1", voice="alloy", input="hello", response_format="wav"
            )
            assert speech.content[:4] == b"RIFF"

            with pytest.raises(openai.BadRequestError):
                await client.audio.speech.create(model="tts-1", voice="alloy", input="x")
        finally:
            await client.close()
        wrong = openai.AsyncOpenAI(api_key="sk-wrong", base_url=fake.base_url, max_retries=0)
        try:
            with pytest.raises(openai.AuthenticationError):
                await wrong.chat.completions.create(model="m", messages=messages)
        finally:
            await wrong.close()


def _with_placeholder_audio(message: dict[str, Any]) -> dict[str, Any]:
    """The fake records inlineData as "<N bytes>"; put valid base64 back for validation."""
    message = copy.deepcopy(message)
    for part in ((message.get("serverContent") or {}).get("modelTurn") or {}).get("parts") or []:
        if "inlineData" in part:
            part["inlineData"]["data"] = base64.b64encode(b"\x00\x00").decode()
    return message


async def test_gemini_fake_messages_match_the_genai_types(monkeypatch: pytest.MonkeyPatch) -> None:
    options = GeminiFakeOptions(tool_call=FakeToolCall("lookup", {"q": "x"}))
    async with GeminiLiveFake(options) as fake:
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)
        parts = build_realtime(
            RealtimeConfig(
                provider="gemini",
                api_key="g",
                base_url=fake.base_url,
                functions=[FunctionDeclaration(name="lookup")],
                on_function_call=lambda *_: "found",
            )
        )
        session: AgentSession[None] = AgentSession(llm=parts.llm)
        mic = QueueAudioInput()
        session.input.audio = mic
        items = Recorder(session, "conversation_item_added")
        try:
            await session.start(Agent(instructions="x", tools=parts.tools))
            await fake.wait_until(
                lambda: (
                    bool(fake.setups)
                    and "tools" in fake.setups[-1]
                    and fake.ready_setups() == len(fake.setups)
                )
            )
            push_utterance(mic.push, speech_pcm("look it up"))
            await items.wait(lambda ev: getattr(ev.item, "role", None) == "assistant")
        finally:
            await session.aclose()
            await parts.llm.aclose()

    keys: set[str] = set()
    for message in fake.server_messages:
        genai_types.LiveServerMessage.model_validate(_with_placeholder_audio(message))
        keys |= set(message) | set(message.get("serverContent") or {})
    assert {
        "setupComplete",
        "toolCall",
        "inputTranscription",
        "outputTranscription",
        "modelTurn",
        "generationComplete",
        "turnComplete",
        "usageMetadata",
    } <= keys
