"""The real worker (agents/worker.py, local pipeline) against a real livekit-server,
with a real rtc participant speaking espeak-ng audio and a hidden observer reading the
``omnivoice.events`` data topic (it sees session_ended after the speaker left)."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from omnivoice_rtc.pipelines.local.responder import STORY
from omnivoice_rtc.types import (
    AgentTranscript,
    EventType,
    Interruption,
    SessionEnded,
    UserTranscript,
)
from tests.integration.agent.voice_client import (
    ReceivedEvent,
    VoiceClient,
    espeak_pcm,
    participant_token,
)
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SENTENCE = "I would like to order a pizza"


async def _join(
    server: LiveKitServer, worker: AgentWorker, room: str, identity: str, *, hidden: bool = False
) -> VoiceClient:
    token = participant_token(
        server.api_key,
        server.api_secret,
        room=room,
        identity=identity,
        agent_name=worker.agent_name,
        hidden=hidden,
    )
    client = VoiceClient(url=server.url, token=token)
    await client.connect()
    return client


async def test_spoken_sentence_gets_a_spoken_answer(
    livekit_server: LiveKitServer, agent_worker: AgentWorker
) -> None:
    room = f"local-{secrets.token_hex(3)}"
    observer = await _join(livekit_server, agent_worker, room, "observer", hidden=True)
    client = await _join(livekit_server, agent_worker, room, "caller-1")
    try:
        await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=120)
        spoken_end = await client.say(espeak_pcm(SENTENCE))
        transcript = await client.wait_for_event(EventType.USER_TRANSCRIPT, timeout_s=90)
        words = transcript.event.data_as(UserTranscript).text.lower().replace(".", " ").split()
        assert "pizza" in words, transcript.event.data
        assert "order" in words, transcript.event.data
        assert transcript.participant == "caller-1"
        await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=90)
        agent_text = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=10)
        assert "pizza" in agent_text.event.data_as(AgentTranscript).text
        assert client.agent_speech_seconds(since=spoken_end) > 0.5
        first_audio = client.first_agent_audio_after(spoken_end)
        assert first_audio is not None
        print(
            f"end of speech -> first agent audio at the participant: {first_audio - spoken_end:.3f} s"
        )
    finally:
        await client.aclose()
    try:
        ended = await observer.wait_for_event(EventType.SESSION_ENDED, timeout_s=90)
    finally:
        await observer.aclose()
    assert ended.participant == "caller-1"
    report = ended.event.data_as(SessionEnded)
    assert report.reason == "participant_disconnected"
    turns = report.transcript
    assert [t.role for t in turns] == ["user", "agent"]
    assert "pizza" in turns[0].text
    assert turns[1].text.startswith("You said:")
    metrics = report.metrics
    assert metrics.turn_count == 2
    assert metrics.audio_bytes_received > 0
    assert metrics.audio_bytes_sent > 0
    assert metrics.user_speech_duration_ms > 0
    assert metrics.agent_speech_duration_ms > 0
    assert metrics.avg_stt_latency_ms > 0
    assert metrics.avg_total_latency_ms > 0
    order = observer.event_types()
    expected = [
        EventType.SESSION_STARTED,
        EventType.USER_SPEECH_START,
        EventType.USER_SPEECH_END,
        EventType.USER_TRANSCRIPT,
        EventType.AGENT_THINKING,
        EventType.AGENT_SPEECH_START,
        EventType.AGENT_SPEECH_END,
        EventType.SESSION_ENDED,
    ]
    positions = [order.index(kind) for kind in expected]
    assert positions == sorted(positions), order
    assert EventType.AUDIO_RECEIVED in order
    assert EventType.AUDIO_SENT in order


async def _story_playing(client: VoiceClient) -> ReceivedEvent:
    """Ask for the long story and return its agent_speech_start once 2 s of it were heard.
    Asked by chat text (livekit's lk.chat topic), so the tests do not depend on how well
    the STT hears "story"; what is said over it is spoken."""
    await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=120)
    await client.room.local_participant.send_text("please tell me a story", topic="lk.chat")
    speaking = await client.wait_for_event(EventType.AGENT_SPEECH_START, timeout_s=90)
    for _ in range(300):  # up to 30 s
        if client.agent_speech_seconds(since=speaking.received_at) >= 2.0:
            break
        await asyncio.sleep(0.1)
    return speaking


async def test_barge_in_stops_the_agent(
    livekit_server: LiveKitServer, agent_worker: AgentWorker
) -> None:
    room = f"barge-{secrets.token_hex(3)}"
    client = await _join(livekit_server, agent_worker, room, "interrupter")
    try:
        speaking = await _story_playing(client)
        barge = espeak_pcm("stop talking please")
        barge_start = time.monotonic()
        await client.say(barge, wait=False)
        interruption = await client.wait_for_event(EventType.INTERRUPTION, timeout_s=90)
        for r in client.events:
            if r.received_at >= barge_start and r.event.type not in (
                EventType.AUDIO_RECEIVED,
                EventType.AUDIO_SENT,
            ):
                print(f"  +{r.received_at - barge_start:.3f} s {r.event.type} {r.event.data}")
        cut_text = interruption.event.data_as(Interruption).text
        assert cut_text
        assert len(cut_text) < len(STORY)  # the story was cut short
        last_audio = client.last_agent_audio()
        assert last_audio is not None
        heard = client.agent_speech_seconds(since=speaking.received_at)
        story_s = len(STORY.split()) / 170 * 60
        assert heard < story_s  # the agent did not finish the ~15 s story
        print(
            f"barge-in: user started at +0, agent audio stopped at +{last_audio - barge_start:.3f} s, "
            f"interruption event at +{interruption.received_at - barge_start:.3f} s "
            f"(agent spoke {heard:.1f} s of ~{story_s:.0f} s)"
        )
    finally:
        await client.aclose()


async def test_a_yeah_over_the_agent_pauses_it_and_the_story_goes_on(
    livekit_server: LiveKitServer, agent_worker: AgentWorker
) -> None:
    """A backchannel is not a barge-in: the agent goes quiet while it is said, its
    transcript ("Yeah.") is dropped, and the reply resumes instead of ending. (Whisper hears
    espeak's "uh huh" as "Uh-uh.", a "no", which rightly ends the reply.)"""
    room = f"backchannel-{secrets.token_hex(3)}"
    client = await _join(livekit_server, agent_worker, room, "listener")
    try:
        await _story_playing(client)
        said_end = await client.say(espeak_pcm("yeah"))
        # the reply resumes 1.5 s after the user went quiet; give it 3.5 s to be heard again
        await asyncio.sleep(5.0)
        resumed_s = client.agent_speech_seconds(since=said_end + 0.5)
        kinds = [r.event.type for r in client.events if r.received_at >= said_end - 1.0]
        assert EventType.INTERRUPTION not in kinds, kinds
        assert resumed_s >= 2.0, f"agent speech after the yeah: {resumed_s:.1f} s; {kinds}"
    finally:
        await client.aclose()
