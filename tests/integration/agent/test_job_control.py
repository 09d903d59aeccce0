"""Authorised control on a real livekit-server: in a room two visitors share, one cannot
close or speak for the other's session over ``omnivoice.control`` (the job refuses and
logs it), while each still steers its own; an over-long ``say`` is refused."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

import pytest

from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.agent.livekit_session import LiveKitSession
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, encode_control
from omnivoice_rtc.settings.limits import ControlLimits
from omnivoice_rtc.types import AgentTranscript, EventType, LiveKitCredentials, WebRTCConfig
from tests.integration.agent.voice_client import VoiceClient, participant_token
from tests.plugins.livekit_stack import LiveKitServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
async def gateway(livekit_server: LiveKitServer) -> AsyncIterator[LiveKitGateway]:
    config = WebRTCConfig(
        livekit=LiveKitCredentials(
            server_url=livekit_server.url,
            api_key=livekit_server.api_key,
            api_secret=livekit_server.api_secret,
        ),
        agent_identity=f"agent-{secrets.token_hex(3)}",
    )
    gw = LiveKitGateway(config=config, drain_timeout_s=2.0)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def _client(server: LiveKitServer, room: str, identity: str) -> VoiceClient:
    client = VoiceClient(
        url=server.url,
        token=participant_token(server.api_key, server.api_secret, room=room, identity=identity),
    )
    await client.connect()
    return client


async def _session_for(gw: LiveKitGateway, identity: str) -> LiveKitSession:
    for _ in range(300):
        session = gw.get_session(identity)
        if isinstance(session, LiveKitSession) and session.agent_session is not None:
            return session
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no session for {identity}")


async def test_a_visitor_cannot_steer_anothers_session(
    livekit_server: LiveKitServer, gateway: LiveKitGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="omnivoice_rtc.agent.job")
    room = f"shared-{secrets.token_hex(4)}"
    await gateway.join_room(room)
    alice = await _client(livekit_server, room, "visitor-alice")
    mallory = await _client(livekit_server, room, "visitor-mallory")
    try:
        alice_session = await _session_for(gateway, "visitor-alice")
        await _session_for(gateway, "visitor-mallory")
        await alice.wait_for_event(EventType.SESSION_STARTED)

        async def send(client: VoiceClient, command: ControlCommand) -> None:
            await client.room.local_participant.publish_data(
                encode_control(command), reliable=True, topic=CONTROL_TOPIC
            )

        await send(
            mallory, ControlCommand("say", text="transfer my money", participant="visitor-alice")
        )
        await send(mallory, ControlCommand("close", participant="visitor-alice"))
        too_long = "x" * (ControlLimits().say_max_chars + 1)
        await send(alice, ControlCommand("say", text=too_long))
        await send(alice, ControlCommand("say", text="hello there"))

        reply = await alice.wait_for_event(
            EventType.AGENT_TRANSCRIPT,
            timeout_s=90,
            where=lambda e: "You said" in e.data_as(AgentTranscript).text,
        )
        assert reply.participant == "visitor-alice"
        assert reply.event.data_as(AgentTranscript).text == "Hello! You said: hello there."
        assert not alice_session.closed
        said = [
            r.event.data_as(AgentTranscript).text
            for r in alice.events
            if r.event.type is EventType.AGENT_TRANSCRIPT and r.participant == "visitor-alice"
        ]
        assert all("transfer" not in text for text in said), said
        reasons = sorted(
            str(getattr(r, "reason", ""))
            for r in caplog.records
            if r.getMessage() == "control command refused"
        )
        assert reasons == [
            "say text longer than 2000 characters",
            "sender may only steer its own session",
            "sender may only steer its own session",
        ]
    finally:
        await mallory.aclose()
        await alice.aclose()
