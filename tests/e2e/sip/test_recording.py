"""Every call recorded (OMNIVOICE_RECORD_CALLS=1): an outbound SIP call to a SIPp callee
whose RTP peer speaks; the agent greets; we hang up. LiveKit Egress (the real one, on the
SIP stack's Redis) has written the caller's and the agent's audio as Ogg/Opus files in
the call's folder, and the agent logged each egress as complete."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.audio.g711 import ulaw_encode
from omnivoice_rtc.ledger.keys import call_key
from omnivoice_rtc.settings import OutboundLimits
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import AgentTranscript, Event, EventType
from tests.conftest import require_binary
from tests.e2e.answering_machine_audio import hello_pcm
from tests.e2e.sip.helpers import livekit_settings, provision, wait_for, wait_for_event
from tests.e2e.sip.rtp_peer import RtpPeer
from tests.e2e.sip.sipp import start_sipp
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.egress import EgressServer
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CALLEE = "+15550100779"
GREETING = "Hello, this call is recorded."


@pytest.fixture(scope="module")
def recording_worker(
    egress_server: EgressServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentWorker]:
    worker = start_agent_worker(
        egress_server.stack.livekit,
        log_dir=tmp_path_factory.mktemp("recording-worker"),
        env={
            "OMNIVOICE_RECORD_CALLS": "1",
            "OMNIVOICE_RECORDING_DIR": str(egress_server.recordings),
            "OMNIVOICE_GREETING_OUTBOUND": GREETING,
        },
    )
    try:
        yield worker
    finally:
        worker.stop()


def _oggs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.ogg")) if folder.is_dir() else []


async def test_an_outbound_call_is_recorded_both_ways(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    egress_server: EgressServer,
    recording_worker: AgentWorker,
    tmp_path: Path,
) -> None:
    rtp = await RtpPeer.open()
    port = free_port(protocol="udp")
    await provision(
        sip_api, tmp_path, agent_name=recording_worker.agent_name,
        outbound_address=f"127.0.0.1:{port}",
    )  # fmt: skip
    sipp = await start_sipp(
        binary=require_binary("sipp"), scenario="uas_answer.xml", port=port, log_dir=tmp_path,
        keys={"rtp_port": str(rtp.port)},
    )  # fmt: skip
    gateway = SIPGateway(
        livekit=livekit_settings(sip_stack),
        options=SIPGatewayOptions(
            outbound_trunk="e2e-outbound",
            agent_name=recording_worker.agent_name,
            poll_interval_s=0.2,
            ringing_timeout_s=20,
            outbound=OutboundLimits(allow=(CALLEE,)),
        ),
    )
    await gateway.start()
    events: list[Event] = []
    reader: asyncio.Task[None] | None = None
    pcm = await asyncio.to_thread(hello_pcm, 8000)
    try:
        session = await gateway.make_call(CALLEE)
        assert isinstance(session, SIPSession)

        async def read() -> None:
            async for event in session.events():
                events.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        rtp.start(await sipp.remote_media(timeout_s=10))
        await wait_for_event(events, EventType.SESSION_STARTED, timeout_s=60)

        async def greeted() -> bool | None:
            said = [e.data.text for e in events if isinstance(e.data, AgentTranscript)]
            return True if any("recorded" in t.lower() for t in said) else None

        await wait_for(greeted, timeout_s=90, what="the greeting")
        rtp.play(ulaw_encode(pcm))  # the callee speaks into the recording too
        await asyncio.sleep(3.0)
        folder = egress_server.recordings / call_key(session.room_name, session.identity)
        await session.close()  # we hang up; the agent stops its egresses

        log = recording_worker.log_text

        async def finished() -> int | None:
            done = re.findall(r'"message": "recording finished"[^\n]*', log())
            return len(done) if len(done) >= 2 else None

        await wait_for(finished, timeout_s=90, what="both egresses to finish")
        lines = re.findall(r'"message": "recording finished"[^\n]*', log())
        assert all('"status": "EGRESS_COMPLETE"' in line for line in lines), lines
        files = await asyncio.to_thread(_oggs, folder)
        assert len(files) == 2, (folder, files)  # the caller's track and the agent's
        for file in files:
            data = await asyncio.to_thread(file.read_bytes)
            assert data.startswith(b"OggS"), file
            assert b"OpusHead" in data[:200], file
            assert len(data) > 1000, (file, len(data))
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await gateway.stop()
        await sipp.kill()
        await rtp.aclose()
