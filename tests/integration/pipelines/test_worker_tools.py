"""Tools on every pipeline, in the real worker: one worker runs
``tests.agents.provider_tools:build`` and each caller picks its pipeline in its token
metadata.

* OpenAI Realtime (loopback fake): the seed's ``RealtimeConfig.functions`` +
  ``on_function_call``; the fake calls ``check_order`` and hears the handler's result.
* Gemini Live (loopback fake): a livekit-agents function tool, ``lookup_weather``.
* text (OpenAI HTTP fake for STT, LLM and TTS): the same function tool.
* local pipeline with an ``LLMProvider`` that ran a tool itself.

Each case ends with the agent's own silence handling, so the final report shows the tool
call as a ``tool_call`` event, in the transcript and in ``Metrics.tool_call_count``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from omnivoice_rtc.types import AgentTranscript, EventType, SessionEnded, ToolCall
from tests.agents import provider_tools
from tests.fakes.gemini_live import GeminiFakeOptions, GeminiLiveFake
from tests.fakes.openai_http import OpenAIHTTPFake, OpenAIHTTPFakeOptions
from tests.fakes.openai_realtime import FakeToolCall, OpenAIRealtimeFake, RealtimeFakeOptions
from tests.integration.agent.test_agent_factory import browser_token
from tests.integration.agent.voice_client import VoiceClient, espeak_pcm
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SENTENCE = "what is the weather in paris"
WEATHER = FakeToolCall(name="lookup_weather", arguments={"city": "Paris"}, call_id="call_w1")


@dataclass
class Fakes:
    openai_realtime: OpenAIRealtimeFake
    gemini: GeminiLiveFake
    openai_http: OpenAIHTTPFake
    worker: AgentWorker


@pytest.fixture(scope="module")
async def fakes(
    agent_worker_factory: Callable[..., AgentWorker],
) -> AsyncIterator[Fakes]:
    async with contextlib.AsyncExitStack() as stack:
        realtime = await stack.enter_async_context(
            OpenAIRealtimeFake(
                RealtimeFakeOptions(
                    user_transcript="where is my order",
                    tool_call=FakeToolCall(name="check_order", arguments={"order": "A17"}),
                    tool_reply="Your order says {output}.",
                )
            )
        )
        gemini = await stack.enter_async_context(
            GeminiLiveFake(
                GeminiFakeOptions(
                    user_transcript=SENTENCE, tool_call=WEATHER, tool_reply="Gemini: {output}"
                )
            )
        )
        http = await stack.enter_async_context(
            OpenAIHTTPFake(
                OpenAIHTTPFakeOptions(
                    transcript=SENTENCE, tool_call=WEATHER, tool_reply="Text: {output}"
                )
            )
        )
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_AGENT": "tests.agents.provider_tools:build",
                "OMNIVOICE_SILENCE_TIMEOUT_S": "3",
                # these tests are about tool calls, not endpointing: the OpenAI fake
                # transcribes every utterance as the whole SENTENCE, so a sentence that a
                # loaded box delivers with a 200 ms gap (concealment running out) became
                # two finished-looking turns with adaptive endpointing (full run,
                # 2026-12-05); the fixed 400 ms silence keeps it one
                "OMNIVOICE_ENDPOINTING": "fixed",
                # google-genai dials wss:// and must trust the Gemini fake's certificate
                "SSL_CERT_FILE": gemini.ca_file,
            }
        )
        yield Fakes(realtime, gemini, http, worker)


async def _call(
    server: LiveKitServer, worker: AgentWorker, pipeline: str, base_url: str
) -> VoiceClient:
    token = browser_token(
        server,
        room=f"tools-{pipeline}-{secrets.token_hex(3)}",
        identity="caller-1",
        agent_name=worker.agent_name,
        metadata=json.dumps({"pipeline": pipeline, "base_url": base_url}),
    )
    client = VoiceClient(url=server.url, token=token)
    await client.connect()
    await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=90)
    return client


async def _report_after_silence(client: VoiceClient, since: float) -> SessionEnded:
    ended = await client.wait_for_event(EventType.SESSION_ENDED, timeout_s=90, since=since)
    report = ended.event.data_as(SessionEnded)
    assert report.reason == "silence_timeout"
    return report


def _tool_turns(report: SessionEnded) -> list[str]:
    return [c.name for t in report.transcript for c in t.tool_calls]


async def test_openai_realtime_runs_the_seed_functions(
    livekit_server: LiveKitServer, fakes: Fakes
) -> None:
    client = await _call(
        livekit_server, fakes.worker, "openai-realtime", fakes.openai_realtime.base_url
    )
    try:
        await client.say(espeak_pcm(SENTENCE))
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60)
        call = tool.event.data_as(ToolCall)
        assert (call.name, call.arguments) == ("check_order", {"order": "A17"})
        assert json.loads(call.result) == {"order": "A17", "status": "shipped"}
        answer = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: "shipped" in e.data_as(AgentTranscript).text,
        )
        report = await _report_after_silence(client, answer.received_at)
    finally:
        await client.aclose()
    outputs = fakes.openai_realtime.function_outputs
    assert [json.loads(o["output"]) for o in outputs] == [{"order": "A17", "status": "shipped"}]
    assert report.metrics.tool_call_count == 1
    assert _tool_turns(report) == ["check_order"]


async def test_gemini_live_runs_a_function_tool(
    livekit_server: LiveKitServer, fakes: Fakes
) -> None:
    client = await _call(livekit_server, fakes.worker, "gemini-realtime", fakes.gemini.base_url)
    try:
        await client.say(espeak_pcm(SENTENCE))
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60)
        call = tool.event.data_as(ToolCall)
        assert (call.name, call.arguments, call.result) == (
            "lookup_weather",
            {"city": "Paris"},
            "Sunny in Paris.",
        )
        answer = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: e.data_as(AgentTranscript).text.startswith("Gemini:"),
        )
        report = await _report_after_silence(client, answer.received_at)
    finally:
        await client.aclose()
    assert fakes.gemini.tool_responses[0]["name"] == "lookup_weather"
    assert report.metrics.tool_call_count == 1
    assert _tool_turns(report) == ["lookup_weather"]


async def test_the_text_pipeline_runs_a_function_tool(
    livekit_server: LiveKitServer, fakes: Fakes
) -> None:
    client = await _call(livekit_server, fakes.worker, "text", fakes.openai_http.base_url)
    try:
        await client.say(espeak_pcm(SENTENCE))
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60)
        call = tool.event.data_as(ToolCall)
        assert (call.name, call.result) == ("lookup_weather", "Sunny in Paris.")
        answer = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: e.data_as(AgentTranscript).text == "Text: Sunny in Paris.",
        )
        report = await _report_after_silence(client, answer.received_at)
    finally:
        await client.aclose()
    tool_messages = [
        m
        for r in fakes.openai_http.requests_to("/v1/chat/completions")
        for m in r.body["messages"]
        if m.get("role") == "tool"
    ]
    assert tool_messages
    assert report.metrics.tool_call_count == 1
    assert _tool_turns(report) == ["lookup_weather"]


async def test_an_llm_provider_on_the_local_pipeline_reports_its_tool_calls(
    livekit_server: LiveKitServer, fakes: Fakes
) -> None:
    client = await _call(livekit_server, fakes.worker, "llm-provider", "")
    try:
        await client.room.local_participant.send_text("how is the weather", topic="lk.chat")
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60)
        assert tool.event.data_as(ToolCall).name == "weather_service"
        reply = provider_tools.generate("", [])[0]
        answer = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            where=lambda e: e.data_as(AgentTranscript).text == reply,
        )
        report = await _report_after_silence(client, answer.received_at)
    finally:
        await client.aclose()
    assert report.metrics.tool_call_count == 1
    assert _tool_turns(report) == ["weather_service"]
