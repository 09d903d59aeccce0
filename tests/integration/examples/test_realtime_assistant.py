"""Example (c), the OpenAI Realtime assistant (examples/realtime_assistant), in the real
worker against the OpenAI Realtime loopback fake: the caller asks about the weather, the
fake model calls the example's ``weather`` tool and says its answer."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest

from omnivoice_rtc.types import AgentTranscript, EventType, ToolCall
from tests.fakes.openai_realtime import FakeToolCall, OpenAIRealtimeFake, RealtimeFakeOptions
from tests.integration.agent.test_agent_factory import browser_token
from tests.integration.agent.voice_client import VoiceClient, espeak_pcm
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_the_realtime_assistant_calls_its_weather_tool(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    options = RealtimeFakeOptions(
        user_transcript="what is the weather in paris",
        tool_call=FakeToolCall(name="weather", arguments={"city": "Paris"}),
        tool_reply="Here is the forecast: {output}",
    )
    async with OpenAIRealtimeFake(options) as fake:
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_AGENT": "examples.realtime_assistant:build",
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": fake.base_url,
            }
        )
        token = browser_token(
            livekit_server,
            room=f"assistant-{secrets.token_hex(3)}",
            identity="caller-1",
            agent_name=worker.agent_name,
            metadata="",
        )
        client = VoiceClient(url=livekit_server.url, token=token)
        await client.connect()
        try:
            await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=90)
            spoken = await client.say(espeak_pcm("what is the weather in paris"))
            tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60)
            call = tool.event.data_as(ToolCall)
            assert (call.name, call.arguments, call.result) == (
                "weather",
                {"city": "Paris"},
                "Paris: sunny, 24 degrees.",
            )
            await client.wait_for_event(
                EventType.AGENT_TRANSCRIPT,
                timeout_s=60,
                where=lambda e: (
                    e.data_as(AgentTranscript).text
                    == "Here is the forecast: Paris: sunny, 24 degrees."
                ),
            )
            assert client.agent_speech_seconds(since=spoken) > 0.5
        finally:
            await client.aclose()
        session = fake.connections[0]
        assert session.headers["Authorization"] == "Bearer sk-test"
        updates = [e for e in fake.client_events if e["type"] == "session.update"]
        offered = [t["name"] for u in updates for t in u["session"].get("tools") or []]
        assert "weather" in offered
        assert (
            json.loads(json.dumps(fake.function_outputs))[0]["output"]
            == "Paris: sunny, 24 degrees."
        )
