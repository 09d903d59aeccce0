"""Outbound SIP calls: make_call dials a local SIPp user agent through the outbound trunk.

Answered: audio flows both ways (the agent hears the callee and answers with RTP).
Busy (486) or declined (603): make_call raises SIPCallError carrying the SIP status.
Either way the call is in the ledger (answered: complete; refused: with the SIP status).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from livekit import api
from prometheus_client import CollectorRegistry

from omnivoice_rtc import LimitError, SIPCallError
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.settings import LedgerSettings, OutboundLimits, WebhookSettings
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import Event, EventType
from omnivoice_rtc.web.prometheus import CallMetrics
from tests.conftest import require_binary
from tests.e2e.ledger_checks import assert_complete, cli_records, wait_for_record
from tests.e2e.sip.helpers import (
    DID,
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

CALLEE = "+15550100777"
SENTENCE = "I would like to order a pizza"


async def _callee(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    worker: AgentWorker,
    tmp_path: Path,
    *,
    scenario: str,
    keys: dict[str, str] | None = None,
    replace: dict[str, str] | None = None,
) -> tuple[Sipp, SIPGateway, LedgerService]:
    port = free_port(protocol="udp")
    await provision(
        sip_api, tmp_path, agent_name=worker.agent_name, outbound_address=f"127.0.0.1:{port}"
    )
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario=scenario,
        port=port,
        log_dir=tmp_path,
        keys=keys,
        replace=replace,
    )
    ledger = LedgerService(
        settings=LedgerSettings(database_url=worker.ledger_url, report_wait_s=30.0),
        webhooks=WebhookSettings(),
        observer=CallMetrics(CollectorRegistry()),
    )
    await ledger.start()
    gateway = SIPGateway(
        livekit=livekit_settings(sip_stack),
        options=SIPGatewayOptions(
            outbound_trunk="e2e-outbound",
            agent_name=worker.agent_name,
            poll_interval_s=0.2,
            ringing_timeout_s=20,
            outbound=OutboundLimits(allow=(CALLEE,)),  # the toll-fraud guard's allow-list
            ledger=ledger,
        ),
    )
    await gateway.start()
    return sipp, gateway, ledger


async def test_answered_call_carries_audio_both_ways(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, sip_agent_worker: AgentWorker, tmp_path: Path
) -> None:
    rtp = await RtpPeer.open()
    sipp, gateway, ledger = await _callee(
        sip_api, sip_stack, sip_agent_worker, tmp_path,
        scenario="uas_answer.xml", keys={"rtp_port": str(rtp.port)},
    )  # fmt: skip
    events: list[Event] = []
    reader: asyncio.Task[None] | None = None
    try:
        session = await gateway.make_call(CALLEE)
        assert isinstance(session, SIPSession)
        assert session.direction == "outbound"
        assert session.to == CALLEE
        assert session.from_ == DID
        assert session.id.startswith("SCL_")
        assert gateway.get_session(session.id) is session

        async def read() -> None:
            async for event in session.events():
                events.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        rtp.start(await sipp.remote_media(timeout_s=10))  # livekit-sip's offer in the INVITE
        # The agent is dispatched once the callee answered: speak when it listens.
        await wait_for_event(events, EventType.SESSION_STARTED, timeout_s=60)
        await asyncio.sleep(0.5)
        speech_end = await say_until_understood(events, rtp, espeak_ulaw(SENTENCE))

        async def agent_audio() -> int | None:
            loud = rtp.loud_packets(since=speech_end)
            return loud if loud >= 25 else None

        await wait_for(agent_audio, timeout_s=60, what="the agent's answer as non-silent RTP")
        first = rtp.first_loud_after(speech_end)
        assert first is not None
        print(f"end of caller speech -> first agent RTP at the phone: {first - speech_end:.3f} s")

        await session.close()  # livekit-sip sends BYE; the uas scenario then ends well
        assert await sipp.wait(timeout_s=30) == 0, sipp.messages("received")
        assert "BYE" in sipp.received_requests()

        async def room_gone() -> bool | None:
            return True if session.room_name not in await room_names(sip_api) else None

        await wait_for(room_gone, timeout_s=30, what="the call's room to be deleted")

        # every call accounted for: we hung up; the record is complete
        record = await wait_for_record(sip_agent_worker.ledger_url, session.id, timeout_s=90)
        assert record.status == "final"
        [listed] = [
            r
            for r in await cli_records(sip_agent_worker.ledger_url)
            if r["ids"]["sip_call"] == session.id
        ]
        assert_complete(listed, route="sip")
        assert listed["direction"] == "outbound"
        assert listed["pii"] == {"caller": DID, "callee": CALLEE}
        assert (listed["end_reason"], listed["ended_by"]) == ("session_closed", "api"), listed
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await gateway.stop()
        await ledger.aclose()
        await sipp.kill()
        await rtp.aclose()


@pytest.mark.parametrize(
    ("status", "code", "name"),
    [
        ("486 Busy Here", 486, "SIP_STATUS_BUSY_HERE"),
        ("603 Decline", 603, "SIP_STATUS_GLOBAL_DECLINE"),
    ],
    ids=["busy", "decline"],
)
async def test_refused_call_raises_sip_call_error(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    status: str,
    code: int,
    name: str,
) -> None:
    sipp, gateway, ledger = await _callee(
        sip_api, sip_stack, sip_agent_worker, tmp_path,
        scenario="uas_reject.xml", replace={"STATUS_LINE": status},
    )  # fmt: skip
    rooms_before = await room_names(sip_api)
    try:
        with pytest.raises(SIPCallError) as info:
            await gateway.make_call(CALLEE)
        assert info.value.sip_status_code == code
        assert info.value.sip_status == name  # livekit-server reports its enum name
        assert str(info.value) == f"call failed: SIP {code} {name}"
        assert gateway.list_sessions() == []
        assert await sipp.wait(timeout_s=30) == 0, sipp.messages("received")

        async def no_outbound_room() -> bool | None:
            # Only rooms this call made: an earlier test's room is not this one's concern.
            names = await room_names(sip_api) - rooms_before
            return True if not any(n.startswith("sip-out") for n in names) else None

        await wait_for(no_outbound_room, timeout_s=30, what="the failed call's room to go")

        await ledger.flush()  # the refused dial is in the ledger, with its SIP status
        refused = [
            r
            for r in await cli_records(sip_agent_worker.ledger_url)
            if r["end_reason"] == f"sip_{code}" and r["ids"]["room"] not in rooms_before
        ]
        assert refused, f"no record ended sip_{code}"
        assert all(r["route"] == "sip" and r["direction"] == "outbound" for r in refused)
        assert all(r["answered_at"] is None and r["ended_by"] == "system" for r in refused)
        assert all(r["pii"]["callee"] == CALLEE for r in refused)
    finally:
        await gateway.stop()
        await ledger.aclose()
        await sipp.kill()


async def test_a_destination_outside_the_allow_list_is_never_dialled(
    sip_api: api.LiveKitAPI, sip_stack: SIPStack, sip_agent_worker: AgentWorker, tmp_path: Path
) -> None:
    """The toll-fraud guard: a number outside ``OutboundLimits.allow`` raises LimitError
    before a room is made or an INVITE sent (the callee SIPp would answer anything)."""
    sipp, gateway, ledger = await _callee(
        sip_api, sip_stack, sip_agent_worker, tmp_path, scenario="uas_reject.xml",
        replace={"STATUS_LINE": "486 Busy Here"},
    )  # fmt: skip
    rooms_before = await room_names(sip_api)
    try:
        with pytest.raises(LimitError, match=r"not in OMNIVOICE_OUTBOUND_ALLOW") as info:
            await gateway.make_call("+19005550123")
        assert info.value.limit == "outbound_allow"
        assert gateway.list_sessions() == []
        assert sipp.messages("received") == []
        new_rooms = await room_names(sip_api) - rooms_before
        assert not any(n.startswith("sip-out") for n in new_rooms)
    finally:
        await gateway.stop()
        await ledger.aclose()
        await sipp.kill()
