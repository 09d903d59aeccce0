"""Answering-machine detection on an outbound SIP call: the callee (SIPp answering, a
Python RTP peer speaking) is a recorded voicemail (greeting, then a beep) or a person
saying "Hello?". The agent runs with OMNIVOICE_AMD=1 on the local pipeline (Whisper
transcripts, the keyword classifier): a machine gets the voicemail message and a BYE, a
person gets the outbound greeting."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.audio.g711 import ulaw_encode
from omnivoice_rtc.settings import OutboundLimits
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import AgentTranscript, Event, EventType
from tests.conftest import require_binary
from tests.e2e.answering_machine_audio import hello_pcm, voicemail_pcm
from tests.e2e.sip.helpers import livekit_settings, provision, wait_for, wait_for_event
from tests.e2e.sip.rtp_peer import RtpPeer
from tests.e2e.sip.sipp import Sipp, start_sipp
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CALLEE = "+15550100778"
GREETING = "Hello, this is Acme calling about your order."
MESSAGE = "This is Acme. Please call us back about your order."


@pytest.fixture(scope="module")
def amd_worker(
    sip_stack: SIPStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentWorker]:
    worker = start_agent_worker(
        sip_stack.livekit,
        log_dir=tmp_path_factory.mktemp("amd-worker"),
        env={
            "OMNIVOICE_AMD": "1",
            "OMNIVOICE_GREETING_OUTBOUND": GREETING,
            "OMNIVOICE_AMD_VOICEMAIL_MESSAGE": MESSAGE,
        },
    )
    try:
        yield worker
    finally:
        worker.stop()


@contextlib.asynccontextmanager
async def _outbound_call(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, worker: AgentWorker, tmp_path: Path, pcm8k: bytes
) -> AsyncIterator[tuple[SIPSession, list[Event], Sipp]]:
    """Dial the SIPp callee; once the agent listens, the callee's RTP peer plays ``pcm8k``."""
    rtp = await RtpPeer.open()
    port = free_port(protocol="udp")
    await provision(
        sip_api, tmp_path, agent_name=worker.agent_name, outbound_address=f"127.0.0.1:{port}"
    )
    sipp = await start_sipp(
        binary=require_binary("sipp"), scenario="uas_answer.xml", port=port, log_dir=tmp_path,
        keys={"rtp_port": str(rtp.port)},
    )  # fmt: skip
    gateway = SIPGateway(
        livekit=livekit_settings(sip_stack),
        options=SIPGatewayOptions(
            outbound_trunk="e2e-outbound",
            agent_name=worker.agent_name,
            poll_interval_s=0.2,
            ringing_timeout_s=20,
            outbound=OutboundLimits(allow=(CALLEE,)),
        ),
    )
    await gateway.start()
    events: list[Event] = []
    reader: asyncio.Task[None] | None = None
    try:
        session = await gateway.make_call(CALLEE)
        assert isinstance(session, SIPSession)
        assert session.direction == "outbound"

        async def read() -> None:
            async for event in session.events():
                events.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        rtp.start(await sipp.remote_media(timeout_s=10))
        await wait_for_event(events, EventType.SESSION_STARTED, timeout_s=60)
        await asyncio.sleep(0.5)
        rtp.play(ulaw_encode(pcm8k))
        yield session, events, sipp
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await gateway.stop()
        await sipp.kill()
        await rtp.aclose()


def _agent_said(events: list[Event]) -> list[str]:
    return [e.data.text for e in events if isinstance(e.data, AgentTranscript)]


async def test_a_voicemail_gets_the_message_after_the_beep_then_a_hang_up(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, amd_worker: AgentWorker, tmp_path: Path
) -> None:
    pcm = await asyncio.to_thread(voicemail_pcm, 8000)
    async with _outbound_call(sip_api, sip_stack, amd_worker, tmp_path, pcm) as (_s, events, sipp):

        async def message_said() -> bool | None:
            return True if any("call us back" in t.lower() for t in _agent_said(events)) else None

        await wait_for(message_said, timeout_s=120, what="the voicemail message")
        # the agent hung up: livekit-sip sent BYE and the uas scenario ended well
        assert await sipp.wait(timeout_s=60) == 0, sipp.messages("received")
        assert "BYE" in sipp.received_requests()
        assert not any("acme calling" in t.lower() for t in _agent_said(events)), events
    log = amd_worker.log_text()
    assert "answering machine detection verdict" in log
    assert "machine-vm" in log
    assert "answering machine beep heard" in log  # the message waited for the beep
    assert re.search(r'"message": "ending the call"[^\n]*"reason": "voicemail"', log), log[-3000:]


async def test_a_person_gets_the_outbound_greeting(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, amd_worker: AgentWorker, tmp_path: Path
) -> None:
    pcm = await asyncio.to_thread(hello_pcm, 8000)
    async with _outbound_call(sip_api, sip_stack, amd_worker, tmp_path, pcm) as (
        session,
        events,
        _sipp,
    ):

        async def greeted() -> bool | None:
            return True if any("acme calling" in t.lower() for t in _agent_said(events)) else None

        await wait_for(greeted, timeout_s=120, what="the outbound greeting")
        assert not any("call us back" in t.lower() for t in _agent_said(events)), events
        assert not session.closed
        await session.close()
    assert re.search(
        r'"answering machine detection verdict"[^\n]*"category": "human"', amd_worker.log_text()
    )
