"""Inbound SIP calls: SIPp INVITEs livekit-sip, the dispatch rule puts the caller in a
room with the real agent, and a real RTP peer speaks, listens and presses keys. The
call's record (written by the agent and the gateway) is complete once the caller hung up.

The gateway runs as in the web server: LiveKit's webhooks (livekit-server → the relay →
a real web server's ``/livekit/webhook``) bring it the calls; its reconciling scan runs
once at start and then not for an hour, so every call here came from a webhook."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc import CallRejectedError
from omnivoice_rtc.settings import LedgerSettings, Settings
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import CallInfo, Dtmf, Event, EventType, Session
from omnivoice_rtc.web import WebServer
from omnivoice_rtc.web.keys import LEDGER_KEY, LIVEKIT_WEBHOOKS_KEY
from tests.conftest import require_binary
from tests.e2e.ledger_checks import assert_complete, cli_records, wait_for_record
from tests.e2e.sip.helpers import (
    CALLER,
    DID,
    ROOM_PREFIX,
    livekit_settings,
    provision,
    room_names,
    say_until_understood,
    wait_for,
    wait_for_event,
)
from tests.e2e.sip.rtp_peer import RtpPeer, espeak_ulaw
from tests.e2e.sip.sipp import Sipp, start_sipp
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SENTENCE = "I would like to order a pizza"


@pytest.fixture
async def gateway(
    sip_stack: SIPStack, sip_api: api.LiveKitAPI, sip_agent_worker: AgentWorker, tmp_path: Path
) -> AsyncIterator[SIPGateway]:
    await provision(sip_api, tmp_path, agent_name=sip_agent_worker.agent_name)
    for name in await room_names(sip_api):  # a clean slate: an earlier failed test's call
        if name.startswith(ROOM_PREFIX):  # must not be taken for this test's
            await sip_api.room.delete_room(api.DeleteRoomRequest(room=name))
    settings = Settings(
        livekit=livekit_settings(sip_stack),
        ledger=LedgerSettings(database_url=sip_agent_worker.ledger_url, report_wait_s=30.0),
    )
    server = WebServer(settings=settings, host="127.0.0.1", port=0)
    await server.start()
    relay = sip_stack.livekit.webhooks
    assert relay is not None
    gw = SIPGateway(
        livekit=settings.livekit,
        options=SIPGatewayOptions(
            agent_name=sip_agent_worker.agent_name,
            reconcile_interval_s=3600.0,
            ledger=server.app[LEDGER_KEY],
        ),
    )
    gw.attach_webhooks(server.app[LIVEKIT_WEBHOOKS_KEY])
    try:
        with relay.forward_to(f"{server.url}/livekit/webhook"):
            await gw.start()
            yield gw
    finally:
        await gw.stop()
        await server.aclose()


async def _call(
    stack: SIPStack, tmp_path: Path, rtp: RtpPeer, *, to: str = DID, local_ip: str = "127.0.0.1"
) -> Sipp:
    return await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=stack.sip_address,
        service=to,
        port=free_port(protocol="udp", host=local_ip),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": str(rtp.port)},
        local_ip=local_ip,
    )


async def test_call_is_answered_heard_keyed_and_hung_up(
    gateway: SIPGateway,
    sip_stack: SIPStack,
    sip_api: api.LiveKitAPI,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
) -> None:
    calls: list[CallInfo] = []
    gateway.on_call(calls.append)
    rtp = await RtpPeer.open()
    sipp = await _call(sip_stack, tmp_path, rtp)
    events: list[Event] = []
    reader: asyncio.Task[None] | None = None
    try:

        async def one_session() -> Session | None:
            sessions = gateway.list_sessions()
            return sessions[0] if sessions else None

        session = await wait_for(one_session, timeout_s=60, what="a SIP session in the gateway")
        assert isinstance(session, SIPSession)

        async def read() -> None:
            async for event in session.events():
                events.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        assert len(calls) == 1
        assert (gateway.discovery.from_webhooks, gateway.discovery.from_scans) == (1, 0)
        call = calls[0]
        assert call.direction == "inbound"
        assert call.to == DID
        assert call.from_ == CALLER
        assert call.call_id.startswith("SCL_")
        assert call.attributes["sip.ruleID"].startswith("SDR_")
        assert call.carrier == "e2e", call.attributes  # the rule's attributes
        assert session.id == call.call_id
        assert session.room_name.startswith(ROOM_PREFIX)

        # livekit-sip answers once the agent is in the room; its SDP tells where RTP goes.
        rtp.start(await sipp.remote_media(timeout_s=60))
        await asyncio.sleep(1.0)  # let the agent's VAD see silence first
        speech_end = await say_until_understood(events, rtp, espeak_ulaw(SENTENCE))

        async def agent_audio() -> int | None:
            loud = rtp.loud_packets(since=speech_end)
            return loud if loud >= 25 else None  # >= 0.5 s of non-silent PCMU

        await wait_for(agent_audio, timeout_s=60, what="the agent's answer as non-silent RTP")
        first = rtp.first_loud_after(speech_end)
        assert first is not None
        print(f"end of caller speech -> first agent RTP at the phone: {first - speech_end:.3f} s")

        marker = len(events)
        rtp.send_dtmf("5")
        dtmf = await wait_for_event(events, EventType.DTMF, timeout_s=30, since=marker)
        assert dtmf.data == Dtmf(digit="5")

        sipp.send_hangup_cue()
        assert await sipp.wait(timeout_s=30) == 0, sipp.messages("received")
        assert await asyncio.wait_for(session.wait_closed(), 30) == "hangup"

        async def room_gone() -> bool | None:
            return True if session.room_name not in await room_names(sip_api) else None

        await wait_for(room_gone, timeout_s=30, what="the call's room to be deleted")
        assert [t.role for t in session.transcript()][:1] == ["user"]

        # every call accounted for: the caller hung up first, the record is complete
        record = await wait_for_record(sip_agent_worker.ledger_url, call.call_id, timeout_s=90)
        assert record.status == "final"
        [listed] = [
            r
            for r in await cli_records(sip_agent_worker.ledger_url)
            if r["ids"]["sip_call"] == call.call_id
        ]
        assert_complete(listed, route="sip", carrier="e2e")
        assert listed["direction"] == "inbound"
        assert listed["pii"] == {"caller": CALLER, "callee": DID}
        assert listed["ended_by"] == "caller", listed
        assert any(e["type"] == "dtmf" and e["data"] == {"digit": "5"} for e in listed["events"])
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await sipp.kill()
        await rtp.aclose()


async def test_rejected_call_ends_and_leaves_no_room(
    gateway: SIPGateway, sip_stack: SIPStack, sip_api: api.LiveKitAPI, tmp_path: Path
) -> None:
    seen: list[CallInfo] = []

    def reject(call: CallInfo) -> None:
        seen.append(call)
        raise CallRejectedError("not today", reason="blocked")

    gateway.on_call(reject)
    rtp = await RtpPeer.open()
    sipp = await _call(sip_stack, tmp_path, rtp)
    try:
        # The caller gets an error response or a BYE; the scenario fails either way.
        assert await sipp.wait(timeout_s=60) != 0
        received = sipp.messages("received")
        assert (
            any(code >= 400 for code in sipp.status_codes()) or "BYE" in sipp.received_requests()
        ), received
        assert len(seen) == 1
        assert seen[0].from_ == CALLER
        assert (gateway.discovery.from_webhooks, gateway.discovery.from_scans) == (1, 0)

        async def no_call_room() -> bool | None:
            names = await room_names(sip_api)
            return True if not any(n.startswith(ROOM_PREFIX) for n in names) else None

        await wait_for(no_call_room, timeout_s=30, what="the rejected call's room to be deleted")
        assert gateway.list_sessions() == []
    finally:
        await sipp.kill()
        await rtp.aclose()
