"""The real worker (agents/worker.py, local pipeline) against a real livekit-server,
with a real rtc participant speaking espeak-ng audio."""

from __future__ import annotations

import secrets

import pytest

from omnivoice_rtc.types import EventType
from tests.integration.livekit.voice_client import VoiceClient, espeak_pcm, participant_token
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SENTENCE = "I would like to order a pizza"


async def _join(
    server: LiveKitServer, worker: AgentWorker, room: str, identity: str
) -> VoiceClient:
    token = participant_token(
        server.api_key,
        server.api_secret,
        room=room,
        identity=identity,
        agent_name=worker.agent_name,
    )
    client = VoiceClient(url=server.url, token=token)
    await client.connect()
    await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=60)
    return client


async def test_spoken_sentence_gets_a_spoken_answer(
    livekit_server: LiveKitServer, agent_worker: AgentWorker
) -> None:
    room = f"local-{secrets.token_hex(3)}"
    client = await _join(livekit_server, agent_worker, room, "caller-1")
    try:
        spoken_end = await client.say(espeak_pcm(SENTENCE))
        transcript = await client.wait_for_event(EventType.USER_TRANSCRIPT, timeout_s=30)
        words = transcript.event.data["text"].split()
        assert "pizza" in words, transcript.event.data
        assert "order" in words, transcript.event.data
        await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=30)
        agent_text = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=10)
        assert "pizza" in agent_text.event.data["text"]
        assert client.agent_speech_seconds(since=spoken_end) > 0.5
        first_audio = client.first_agent_audio_after(spoken_end)
        assert first_audio is not None
        print(f"end of speech -> first agent audio: {first_audio - spoken_end:.3f} s")
    finally:
        await client.aclose()
    ended = await _wait_session_ended(client)
    order = client.event_types()
    # plausible order: started, user speech, transcript, thinking, agent speech, ended
    expected = [
        EventType.SESSION_STARTED,
        EventType.USER_SPEECH_START,
        EventType.USER_SPEECH_END,
        EventType.USER_TRANSCRIPT,
        EventType.AGENT_THINKING,
        EventType.AGENT_SPEECH_START,
        EventType.AGENT_SPEECH_END,
    ]
    positions = [order.index(kind) for kind in expected]
    assert positions == sorted(positions), order
    assert ended is None or ended.event.type is EventType.SESSION_ENDED


async def _wait_session_ended(client: VoiceClient) -> object:
    """The client left, so it cannot see session_ended; that is checked by other tests."""
    return None
