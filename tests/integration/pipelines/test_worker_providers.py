"""The real agent worker (agents/worker.py) in realtime and text mode, in a real
livekit-server room, with its provider endpoints pointed at loopback fakes of OpenAI.

A real rtc participant speaks an espeak-ng sentence; the fakes detect the speech by its
energy (realtime) or segment-and-upload (text), answer with scripted words and
non-silent audio, and the participant must hear more than 0.5 s of agent audio and see
the user/agent transcript events.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import pytest

from omnivoice_rtc.types import AgentTranscript, ErrorDetail, EventType, UserTranscript
from tests.fakes.gemini_live import GeminiFakeOptions, GeminiLiveFake
from tests.fakes.openai_http import OpenAIHTTPFake, OpenAIHTTPFakeOptions
from tests.fakes.openai_realtime import OpenAIRealtimeFake, RealtimeFakeOptions
from tests.integration.agent.voice_client import (
    SILENCE_RMS,
    VoiceClient,
    espeak_pcm,
    participant_token,
)
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SENTENCE = "what is the weather in paris"


async def _until(condition: Callable[[], bool], *, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110  # reason: VoiceClient records agent audio frames without signalling
            await asyncio.sleep(0.05)


async def _converse(server: LiveKitServer, worker: AgentWorker, prefix: str) -> VoiceClient:
    room = f"{prefix}-{secrets.token_hex(3)}"
    token = participant_token(
        server.api_key,
        server.api_secret,
        room=room,
        identity="caller-1",
        agent_name=worker.agent_name,
    )
    client = VoiceClient(url=server.url, token=token)
    await client.connect()
    await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=60)
    return client


async def test_realtime_worker_against_openai_realtime_fake(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    options = RealtimeFakeOptions(
        user_transcript=SENTENCE,
        reply_text="It is sunny in Paris today.",
        pacing=1.0,
    )
    async with OpenAIRealtimeFake(options) as fake:
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_PIPELINE": "realtime",
                "OMNIVOICE_REALTIME_PROVIDER": "openai",
                "OMNIVOICE_REALTIME_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-test",
            }
        )
        client = await _converse(livekit_server, worker, "rt")
        try:
            spoken_end = await client.say(espeak_pcm(SENTENCE))
            heard = await client.wait_for_event(EventType.USER_TRANSCRIPT, timeout_s=30)
            assert heard.event.data_as(UserTranscript).text == SENTENCE
            said = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=30)
            assert said.event.data_as(AgentTranscript).text == "It is sunny in Paris today."
            await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=30)
            assert client.agent_speech_seconds(since=spoken_end) > 0.5
        finally:
            await client.aclose()
        # the fake heard the participant's speech by its energy, over the real WebSocket
        started = [
            e for e in fake.server_events if e["type"] == "input_audio_buffer.speech_started"
        ]
        assert started
        assert fake.connections[0].headers["Authorization"] == "Bearer sk-test"
        assert fake.responses[0].status == "completed"


async def test_text_worker_against_openai_http_fake(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    options = OpenAIHTTPFakeOptions(
        transcript=SENTENCE, reply=lambda heard: f"You asked {heard}.", speech="espeak"
    )
    async with OpenAIHTTPFake(options) as fake:
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_PIPELINE": "text",
                "OMNIVOICE_STT_BASE_URL": fake.base_url,
                "OMNIVOICE_LLM_BASE_URL": fake.base_url,
                "OMNIVOICE_TTS_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-test",
            }
        )
        client = await _converse(livekit_server, worker, "text")
        try:
            spoken_end = await client.say(espeak_pcm(SENTENCE))
            heard = await client.wait_for_event(EventType.USER_TRANSCRIPT, timeout_s=30)
            assert heard.event.data_as(UserTranscript).text == SENTENCE
            said = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=30)
            assert said.event.data_as(AgentTranscript).text == f"You asked {SENTENCE}."
            await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=30)
            assert client.agent_speech_seconds(since=spoken_end) > 0.5
        finally:
            await client.aclose()
        # the speech the participant published reached the transcription endpoint
        uploads = fake.requests_to("/v1/audio/transcriptions")
        assert uploads
        assert uploads[0].body["file"]["size"] > 16000  # > 0.5 s of s16le audio at >= 16 kHz
        assert fake.requests_to("/v1/audio/speech")


async def test_realtime_worker_against_gemini_live_fake(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    options = GeminiFakeOptions(
        user_transcript=SENTENCE, reply_text="Gemini says it is sunny.", pacing=1.0
    )
    async with GeminiLiveFake(options) as fake:
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_PIPELINE": "realtime",
                "OMNIVOICE_REALTIME_PROVIDER": "gemini",
                "OMNIVOICE_REALTIME_BASE_URL": fake.base_url,
                "GOOGLE_API_KEY": "g-test",
                # google-genai dials wss:// and must trust the fake's self-signed certificate
                "SSL_CERT_FILE": fake.ca_file,
            }
        )
        client = await _converse(livekit_server, worker, "gemini")
        try:
            spoken_end = await client.say(espeak_pcm(SENTENCE))
            heard = await client.wait_for_event(EventType.USER_TRANSCRIPT, timeout_s=30)
            assert heard.event.data_as(UserTranscript).text == SENTENCE
            said = await client.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=30)
            assert said.event.data_as(AgentTranscript).text == "Gemini says it is sunny."
            await client.wait_for_event(EventType.AGENT_SPEECH_END, timeout_s=30)
            assert client.agent_speech_seconds(since=spoken_end) > 0.5
        finally:
            await client.aclose()
        assert fake.connections[0]["headers"]["x-goog-api-key"] == "g-test"
        assert fake.turns[0].status == "completed"


async def test_barge_in_on_the_realtime_worker(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    """The participant talks over a long paced answer: the fake's server VAD cancels the
    response, the agent stops speaking and emits an interruption event."""
    reply = "This is a very long answer that keeps going. " * 8
    options = RealtimeFakeOptions(user_transcript=SENTENCE, reply_text=reply, pacing=1.0)
    async with OpenAIRealtimeFake(options) as fake:
        full_reply_s = len(reply) * options.tone_ms_per_char / 1000
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_PIPELINE": "realtime",
                "OMNIVOICE_REALTIME_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-test",
            }
        )
        client = await _converse(livekit_server, worker, "rt-barge")
        try:
            spoken_end = await client.say(espeak_pcm(SENTENCE))
            started = await client.wait_for_event(EventType.AGENT_SPEECH_START, timeout_s=30)
            # let some words play first: an interruption before any transcript was forwarded
            # adds no interrupted message to the conversation
            await _until(lambda: client.agent_speech_seconds(since=spoken_end) >= 1.5)
            barge_pcm = espeak_pcm("stop stop please stop")
            barge_start = time.monotonic()
            await client.say(barge_pcm)
            interruption = await client.wait_for_event(
                EventType.INTERRUPTION, timeout_s=30, since=started.received_at
            )
            await client.wait_for_event(
                EventType.AGENT_SPEECH_END, timeout_s=30, since=started.received_at
            )
            heard_s = client.agent_speech_seconds(since=spoken_end)
            loud_before_event = [
                f.received_at
                for f in client.agent_audio
                if barge_start <= f.received_at <= interruption.received_at and f.rms > SILENCE_RMS
            ]
            # recorded, not asserted (timings depend on the machine)
            if loud_before_event:
                last_audio = loud_before_event[-1]
                print(
                    f"barge-in (realtime fake): user speech start -> last agent audio "
                    f"{last_audio - barge_start:.3f} s, -> interruption event "
                    f"{interruption.received_at - barge_start:.3f} s"
                )
        finally:
            await client.aclose()
        cancelled = [r for r in fake.responses if r.status == "cancelled"]
        assert cancelled, fake.responses
        assert 0.0 < heard_s < full_reply_s


async def test_provider_error_becomes_an_error_event_and_the_session_continues(
    livekit_server: LiveKitServer, agent_worker_factory: Callable[..., AgentWorker]
) -> None:
    """The fake fails the first response (response.done status=failed): the participant
    gets an ERROR event from the realtime source, and the next utterance is answered."""
    options = RealtimeFakeOptions(
        user_transcript=SENTENCE, reply_text="Second time lucky.", fail_responses=1
    )
    async with OpenAIRealtimeFake(options) as fake:
        worker = agent_worker_factory(
            env={
                "OMNIVOICE_PIPELINE": "realtime",
                "OMNIVOICE_REALTIME_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-test",
            }
        )
        client = await _converse(livekit_server, worker, "rt-error")
        try:
            await client.say(espeak_pcm(SENTENCE))
            error = await client.wait_for_event(EventType.ERROR, timeout_s=30)
            assert error.event.data == ErrorDetail(source="realtime", recoverable=True)
            assert error.event.error is not None
            assert "failed" in error.event.error
            second_end = await client.say(espeak_pcm(SENTENCE))
            said = await client.wait_for_event(
                EventType.AGENT_TRANSCRIPT, timeout_s=30, since=error.received_at
            )
            assert said.event.data_as(AgentTranscript).text == "Second time lucky."
            assert client.agent_speech_seconds(since=second_end) > 0.5
        finally:
            await client.aclose()
        assert [r.status for r in fake.responses] == ["failed", "completed"]
