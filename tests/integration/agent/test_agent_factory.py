"""Your agent in the real worker: ``OMNIVOICE_AGENT=tests.agents.pizza_shop:build`` on the
keyless local pipeline, against a real livekit-server and a real rtc participant.

The participant joins with token metadata; the factory sees the right CallContext (it
writes it to a file), the agent greets first, the local rules call the user's tool when
its name is said (typed on the chat topic, so STT is out of the way), the tool call is an
event, a transcript entry and a counted metric, and after silence the agent prompts once
and then ends the call politely (close reason ``silence_timeout``).
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable

import pytest
from livekit import api

from omnivoice_rtc.types import AgentTranscript, EventType, SessionEnded, ToolCall, Turn
from tests.agents import pizza_shop
from tests.integration.agent.voice_client import SILENCE_RMS, VoiceClient, participant_token
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SILENCE_TIMEOUT_S = 4


def browser_token(
    server: LiveKitServer, *, room: str, identity: str, agent_name: str, metadata: str
) -> str:
    """A browser-like participant's token: metadata and the agent in its room config."""
    return (
        api.AccessToken(server.api_key, server.api_secret)
        .with_identity(identity)
        .with_metadata(metadata)
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .with_room_config(
            api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name=agent_name)])
        )
        .to_jwt()
    )


def _said(text: str) -> Callable[[object], bool]:
    def match(event: object) -> bool:
        data = getattr(event, "data", None)
        return isinstance(data, AgentTranscript) and data.text == text

    return match


async def test_a_users_factory_greets_calls_its_tool_and_ends_a_silent_call(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    worker = agent_worker_factory(
        env={
            "OMNIVOICE_AGENT": "tests.agents.pizza_shop:build",
            "OMNIVOICE_SILENCE_TIMEOUT_S": str(SILENCE_TIMEOUT_S),
            "OMNIVOICE_SILENCE_PROMPT": "Are you still there?",
            "OMNIVOICE_SILENCE_GOODBYE": "Goodbye for now.",
        }
    )
    room = f"factory-{secrets.token_hex(3)}"
    token = browser_token(
        livekit_server,
        room=room,
        identity="visitor-1",
        agent_name=worker.agent_name,
        metadata=json.dumps({"customer": "c-42"}),
    )
    client = VoiceClient(url=livekit_server.url, token=token)
    joined = time.monotonic()
    await client.connect()
    try:
        greeting = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT, timeout_s=90, where=_said(pizza_shop.GREETING)
        )
        first_audio = client.first_agent_audio_after(joined)
        assert first_audio is not None, "the greeting was never heard"
        assert first_audio < greeting.received_at
        print(
            f"greeting (webrtc, integration): join -> first agent audio {first_audio - joined:.3f} s"
        )
        seen = json.loads(pizza_shop.report_path(room).read_text(encoding="utf-8"))
        assert seen == {
            "route": "webrtc",
            "direction": "inbound",
            "caller": "",
            "callee": "",
            "carrier_call_id": "",
            "room": room,
            "participant_identity": "visitor-1",
            "parameters": {"customer": "c-42"},
            "resume_transcript": [],
        }

        asked = time.monotonic()
        await client.room.local_participant.send_text(
            "I would like to order a pizza please", topic="lk.chat"
        )
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60, since=asked)
        call = tool.event.data_as(ToolCall)
        assert call.name == "order"
        assert call.arguments == {"details": "i would like to order a pizza please"}
        assert call.result == pizza_shop.TOOL_RESULT
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            since=asked,
            where=_said(pizza_shop.TOOL_RESULT),
        )

        prompt = await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=60,
            since=asked,
            where=_said("Are you still there?"),
        )
        ended = await client.wait_for_event(
            EventType.SESSION_ENDED, timeout_s=60, since=prompt.received_at
        )
        report = ended.event.data_as(SessionEnded)
        assert report.reason == "silence_timeout"
        # the prompt, then as long again without an answer, then the goodbye
        assert ended.received_at - prompt.received_at >= SILENCE_TIMEOUT_S * 0.9
        texts = [t.text for t in report.transcript if t.role == "agent"]
        assert texts[0] == pizza_shop.GREETING
        assert texts[-2:] == ["Are you still there?", "Goodbye for now."]
        assert report.metrics.tool_call_count == 1
        with_tool = [t for t in report.transcript if t.tool_calls]
        assert [c.name for c in with_tool[0].tool_calls] == ["order"]
        assert with_tool[0].text == pizza_shop.TOOL_RESULT
        loud_after_prompt = [
            f
            for f in client.agent_audio
            if f.received_at > prompt.received_at and f.rms > SILENCE_RMS
        ]
        assert loud_after_prompt, "the goodbye was not heard"
    finally:
        await client.aclose()


async def test_omnivoice_rtc_worker_runs_the_agent_named_on_its_command_line(
    livekit_server: LiveKitServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``omnivoice-rtc worker start --agent ...`` (the CLI form, job processes started by
    livekit-agents' forkserver) serves a room with the named factory."""
    worker = start_agent_worker(
        livekit_server,
        log_dir=tmp_path_factory.getbasetemp(),
        command=(
            sys.executable,
            "-m",
            "omnivoice_rtc.cli",
            "worker",
            "--agent",
            "tests.agents.pizza_shop:build",
        ),
    )
    try:
        room = f"cli-{secrets.token_hex(3)}"
        token = browser_token(
            livekit_server,
            room=room,
            identity="visitor-cli",
            agent_name=worker.agent_name,
            metadata="",
        )
        client = VoiceClient(url=livekit_server.url, token=token)
        await client.connect()
        try:
            await client.wait_for_event(
                EventType.AGENT_TRANSCRIPT, timeout_s=90, where=_said(pizza_shop.GREETING)
            )
        finally:
            await client.aclose()
        seen = json.loads(pizza_shop.report_path(room).read_text(encoding="utf-8"))
        assert (seen["route"], seen["participant_identity"]) == ("webrtc", "visitor-cli")
    finally:
        worker.stop()


async def test_a_resumed_call_gets_its_history_and_no_second_greeting(
    livekit_server: LiveKitServer,
    agent_worker_factory: Callable[..., AgentWorker],
    livekit_api: api.LiveKitAPI,
) -> None:
    """A fresh agent dispatched with ``{"omnivoice": {"resume": {"transcript": [...]}}}``
    (what the liveness code sends after an agent died): the factory sees the turns, the
    agent does not greet again and answers the caller's next turn."""
    worker = agent_worker_factory(env={"OMNIVOICE_AGENT": "tests.agents.pizza_shop:build"})
    room = f"resume-{secrets.token_hex(3)}"
    earlier = [
        Turn(role="agent", text=pizza_shop.GREETING).to_dict(),
        Turn(role="user", text="I want a large pizza").to_dict(),
    ]
    await worker.dispatch(
        livekit_api,
        room,
        metadata=json.dumps({"omnivoice": {"resume": {"transcript": earlier}}}),
    )
    token = participant_token(
        livekit_server.api_key, livekit_server.api_secret, room=room, identity="caller-back"
    )
    client = VoiceClient(url=livekit_server.url, token=token)
    await client.connect()
    try:
        await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=90)
        await client.room.local_participant.send_text("please order it", topic="lk.chat")
        first = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=60)
        assert first.event.data_as(AgentTranscript).text == pizza_shop.TOOL_RESULT
    finally:
        await client.aclose()
    seen = json.loads(pizza_shop.report_path(room).read_text(encoding="utf-8"))
    assert [(t["role"], t["text"]) for t in seen["resume_transcript"]] == [
        ("agent", pizza_shop.GREETING),
        ("user", "I want a large pizza"),
    ]
