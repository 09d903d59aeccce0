"""Example (a), the receptionist (examples/receptionist), in the real worker on the keyless
local pipeline: a browser-like participant and a simulated Twilio call through the real
shim, both served by the same module.

The participant types on the chat topic (STT out of the way): the agent greets first,
tells the opening hours through ``opening_hours`` and files a message through
``take_message`` under the participant's identity. The Twilio call hears the greeting
at the carrier and the message book would file it under the caller's number (its
CallContext is checked through the factory's own per-call tool).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable

import pytest

from examples import receptionist
from examples.receptionist.agent import HOURS, MESSAGE_TAKEN, MESSAGES
from omnivoice_rtc.types import AgentTranscript, EventType, ToolCall
from tests.e2e.media_streams.helpers import EventLog, wait_for_session
from tests.e2e.media_streams.test_user_agent import TwilioShim, twilio_shim
from tests.fakes.carrier_simulator import CarrierSimulator
from tests.integration.agent.test_agent_factory import browser_token
from tests.integration.agent.voice_client import VoiceClient
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["twilio_shim"]  # the shim fixture, dispatching this module's user_agent_worker

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def user_agent_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    return agent_worker_factory(env={"OMNIVOICE_AGENT": "examples.receptionist:build"})


def _said(text: str) -> Callable[[object], bool]:
    def match(event: object) -> bool:
        data = getattr(event, "data", None)
        return isinstance(data, AgentTranscript) and data.text == text

    return match


async def test_the_receptionist_greets_tells_the_hours_and_takes_a_message(
    livekit_server: LiveKitServer, user_agent_worker: AgentWorker
) -> None:
    identity = f"visitor-{secrets.token_hex(3)}"
    token = browser_token(
        livekit_server,
        room=f"acme-{secrets.token_hex(3)}",
        identity=identity,
        agent_name=user_agent_worker.agent_name,
        metadata="",
    )
    client = VoiceClient(url=livekit_server.url, token=token)
    await client.connect()
    try:
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT, timeout_s=90, where=_said(receptionist.GREETING)
        )
        asked = time.monotonic()
        await client.room.local_participant.send_text(
            "what are your opening hours", topic="lk.chat"
        )
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60, since=asked)
        assert tool.event.data_as(ToolCall).name == "opening_hours"
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT, timeout_s=60, since=asked, where=_said(HOURS)
        )

        asked = time.monotonic()
        await client.room.local_participant.send_text(
            "please take a message call me back tomorrow", topic="lk.chat"
        )
        tool = await client.wait_for_event(EventType.TOOL_CALL, timeout_s=60, since=asked)
        assert tool.event.data_as(ToolCall).name == "take_message"
        await client.wait_for_event(
            EventType.AGENT_TRANSCRIPT, timeout_s=60, since=asked, where=_said(MESSAGE_TAKEN)
        )
    finally:
        await client.aclose()
    mine = [m for m in MESSAGES.read() if m["caller"] == identity]
    assert len(mine) == 1
    assert mine[0]["route"] == "webrtc"
    assert "call me back tomorrow" in mine[0]["message"]


async def test_the_receptionist_answers_a_twilio_call(twilio_shim: TwilioShim) -> None:
    async with CarrierSimulator(
        carrier="twilio",
        base_url=twilio_shim.base_url,
        secrets_=twilio_shim.secrets,
        ssl_context=twilio_shim.client_ssl,
    ) as sim:
        status, markup = await sim.post_answer_webhook()
        assert status == 200, markup
        await sim.open_stream(sim.stream_target(markup))
        sim.start_mic()
        session = await wait_for_session(twilio_shim.gateway, sim.call_id, timeout_s=60)
        log = EventLog(session)
        try:
            _, greeting = await log.wait_for(EventType.AGENT_TRANSCRIPT, timeout_s=90)
            assert greeting.data_as(AgentTranscript).text == receptionist.GREETING
            deadline = time.monotonic() + 30
            while sim.received_seconds() < 1.0:  # the greeting was heard at the carrier
                assert time.monotonic() < deadline, "the greeting did not reach the carrier"
                await asyncio.sleep(0.05)
        finally:
            await log.aclose()
            await sim.hang_up()
    # the transcript the shim's session kept for this call starts with the greeting
    assert json.dumps([t.text for t in session.transcript()][:1]) == json.dumps(
        [receptionist.GREETING]
    )
