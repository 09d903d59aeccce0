"""A job ends cleanly after a barged-in call, and its worker takes the next room.

Real agents/worker.py (local pipeline, immediate interruptions) against a real
livekit-server: the caller of room A asks for the long story, talks over it and hangs
up; the agent must leave room A (the job ends instead of hanging in its close path),
and room B, dispatched afterwards to the same worker, must get the agent and an answer.

The hang behind it is a race in the session's audio output chain (a speech cancelled
while livekit's TranscriptSynchronizer waits for a segment rotation left a segment
counted that never finished, so drain/close waited forever); the second test drives
that exact interleaving through livekit-agents' real TranscriptSynchronizer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

import pytest
from livekit import api, rtc
from livekit.agents.voice import io as lk_io
from livekit.agents.voice.transcription.synchronizer import TranscriptSynchronizer

from omnivoice_rtc.agent.io_counters import CountingAudioOutput
from omnivoice_rtc.conversation import ConversationStats
from omnivoice_rtc.types import AgentTranscript, EventType
from tests.integration.agent.voice_client import VoiceClient, espeak_pcm, participant_token
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

_AGENT_LEAVE_LIMIT_S = 60.0
"""Liveness bound, not a timing assertion: a healthy job leaves within a few seconds."""


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
    return client


async def _agents_in(livekit_api: api.LiveKitAPI, room: str) -> list[str]:
    listing = await livekit_api.room.list_participants(api.ListParticipantsRequest(room=room))
    return [p.identity for p in listing.participants if p.kind == api.ParticipantInfo.Kind.AGENT]


async def _wait_agent_gone(livekit_api: api.LiveKitAPI, room: str) -> list[str]:
    deadline = time.monotonic() + _AGENT_LEAVE_LIMIT_S
    agents = await _agents_in(livekit_api, room)
    while agents and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        try:
            agents = await _agents_in(livekit_api, room)
        except api.TwirpError:  # the room was deleted once empty
            return []
    return agents


async def test_barged_in_call_ends_its_job_and_the_worker_serves_the_next_room(
    livekit_server: LiveKitServer,
    livekit_api: api.LiveKitAPI,
    agent_worker_factory: Callable[..., AgentWorker],
) -> None:
    worker = agent_worker_factory()
    room_a = f"barge-leave-{secrets.token_hex(3)}"
    client = await _join(livekit_server, worker, room_a, "caller-a")
    try:
        await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=120)
        assert await _agents_in(livekit_api, room_a)
        await client.room.local_participant.send_text("please tell me a story", topic="lk.chat")
        speaking = await client.wait_for_event(EventType.AGENT_SPEECH_START, timeout_s=90)
        for _ in range(300):  # up to 30 s of story before talking over it
            if client.agent_speech_seconds(since=speaking.received_at) >= 2.0:
                break
            await asyncio.sleep(0.1)
        await client.say(espeak_pcm("stop talking please"), wait=False)
        await client.wait_for_event(EventType.INTERRUPTION, timeout_s=90)
    finally:
        await client.aclose()  # hang up right after the barge-in
    left = await _wait_agent_gone(livekit_api, room_a)
    assert not left, (
        f"the agent of room A never left (job hung): {left}\n{worker.log_text()[-4000:]}"
    )

    room_b = f"after-barge-{secrets.token_hex(3)}"
    client_b = await _join(livekit_server, worker, room_b, "caller-b")
    try:
        await client_b.wait_for_event(EventType.SESSION_STARTED, timeout_s=120)
        await client_b.room.local_participant.send_text("I would like a pizza", topic="lk.chat")
        answer = await client_b.wait_for_event(EventType.AGENT_TRANSCRIPT, timeout_s=90)
        assert "pizza" in answer.event.data_as(AgentTranscript).text
    finally:
        await client_b.aclose()


class _Sink(lk_io.AudioOutput):
    """An audio sink that plays a flushed segment out on the next loop turn."""

    def __init__(self) -> None:
        super().__init__(label="test.sink", capabilities=lk_io.AudioOutputCapabilities(pause=True))
        self.pushed_s = 0.0

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        self.pushed_s += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._pending_playback_count:
            asyncio.get_running_loop().call_soon(self._finish, False)

    def clear_buffer(self) -> None:
        if self._pending_playback_count:
            self._finish(True)

    def _finish(self, interrupted: bool) -> None:
        self.on_playback_finished(playback_position=self.pushed_s, interrupted=interrupted)


class _Text(lk_io.TextOutput):
    def __init__(self) -> None:
        super().__init__(label="test.text", next_in_chain=None)

    async def capture_text(self, text: str) -> None:
        return None

    def flush(self) -> None:
        return None


def _frame() -> rtc.AudioFrame:
    return rtc.AudioFrame(b"\x00\x00" * 480, 24000, 1, 480)  # 20 ms


async def test_speech_cancelled_on_its_first_frame_still_plays_out() -> None:
    synchronizer = TranscriptSynchronizer(next_in_chain_audio=_Sink(), next_in_chain_text=_Text())
    output = CountingAudioOutput(synchronizer.audio_output, ConversationStats())
    output.on_attached()
    try:
        # one reply plays out: the synchronizer starts rotating its segment
        await output.capture_frame(_frame())
        output.flush()
        await asyncio.wait_for(output.wait_for_playout(), 10)

        # the next reply is cut (barge-in / close) on its first frame, as livekit's
        # forwarding task does it: cancel, flush, clear_buffer, then wait for playout
        async def forward() -> None:
            try:
                await output.capture_frame(_frame())
            finally:
                output.flush()

        task = asyncio.create_task(forward())
        await asyncio.sleep(0)  # the frame is now waiting in the synchronizer's barrier
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        output.clear_buffer()
        await asyncio.wait_for(output.wait_for_playout(), 10)  # hung forever before the fix
        assert output.captured_playout_segments == 1
    finally:
        await synchronizer.aclose()
