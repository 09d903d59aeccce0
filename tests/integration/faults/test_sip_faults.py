"""Faults under SIP calls: the agent's job killed, livekit-sip killed and restarted,
livekit-server killed and restarted, each with the SIP gateway running.

A real SIP user agent (SIPp) calls livekit-sip, whose dispatch rule puts the caller in a
room with the real agent; the gateway observes the call. What must hold: a dead agent is
replaced within 3 s; a call cut off by a dead livekit-sip or livekit-server is reported
ended and its room deleted; the gateway keeps finding calls, and new calls are answered by
an agent once the process is back. Each test records its figures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.settings import CallSettings
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import CallInfo
from tests.conftest import require_binary
from tests.e2e.sip.helpers import CALLER, DID, ROOM_PREFIX, provision, room_names
from tests.e2e.sip.rtp_peer import RtpPeer
from tests.e2e.sip.sipp import Sipp, start_sipp
from tests.integration.faults.conftest import Figures
from tests.integration.faults.shim import wait_until
from tests.integration.faults.stack import FaultStack, WorkerHandle, job_pid

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(300)]

DEAD_AIR_LIMIT_S = 3.0


@pytest.fixture
async def gateway(
    fault_stack: FaultStack,
    fault_worker: WorkerHandle,
    fault_api: api.LiveKitAPI,
    tmp_path: Path,
) -> AsyncIterator[SIPGateway]:
    worker = fault_worker.ensure()
    await provision(fault_api, tmp_path, agent_name=worker.agent_name)
    gw = SIPGateway(
        livekit=fault_stack.settings,
        options=SIPGatewayOptions(
            agent_name=worker.agent_name, poll_interval_s=0.2, liveness=CallSettings()
        ),
    )
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


class _Call:
    """One SIPp call with its RTP peer."""

    def __init__(self, sipp: Sipp, rtp: RtpPeer) -> None:
        self.sipp, self.rtp = sipp, rtp

    async def close(self) -> None:
        await self.sipp.kill()
        await self.rtp.aclose()


async def _dial(stack: FaultStack, tmp_path: Path) -> _Call:
    rtp = await RtpPeer.open()
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=stack.sip_address,
        service=DID,
        port=free_port(protocol="udp"),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": str(rtp.port)},
        local_ip="127.0.0.1",
    )
    return _Call(sipp, rtp)


async def _answered_session(gateway: SIPGateway, call: _Call, known: set[str]) -> SIPSession:
    """The gateway's session of a new call, once livekit-sip answered it (agent in room)."""
    found: list[SIPSession] = []

    def new_session() -> bool:
        found[:] = [
            s for s in gateway.list_sessions() if isinstance(s, SIPSession) and s.id not in known
        ]
        return bool(found)

    await wait_until(new_session, timeout_s=60, what="a SIP session in the gateway")
    session = found[0]
    call.rtp.start(await call.sipp.remote_media(timeout_s=60))
    await wait_until(lambda: bool(session.agents.identity), timeout_s=60, what="the agent")
    return session


async def _room_gone(lk: api.LiveKitAPI, room: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while room in await room_names(lk):
        assert time.monotonic() < deadline, f"room {room} left behind"
        await asyncio.sleep(0.5)


async def test_a_sip_calls_dead_agent_is_replaced_within_3_s(
    gateway: SIPGateway,
    fault_stack: FaultStack,
    fault_worker: WorkerHandle,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    tmp_path: Path,
) -> None:
    worker = fault_worker.ensure()
    call = await _dial(fault_stack, tmp_path)
    try:
        session = await _answered_session(gateway, call, set())
        old = session.agents.identity
        job: list[int] = []

        def located() -> bool:
            pid = job_pid(worker.process.pid, fault_stack.livekit_port)
            job[:] = [pid] if pid is not None else []
            return bool(job)

        await wait_until(located, timeout_s=30, what="the agent's job process")
        assert session.liveness_log == []  # a live agent was never taken for dead
        killed_at = time.monotonic()
        os.kill(job[0], signal.SIGKILL)
        dispatched_at = await wait_until(
            lambda: any(w == "agent_dispatched:1" for _t, w in session.liveness_log),
            timeout_s=30,
            what="a fresh agent's dispatch",
        )
        back_at = await wait_until(
            lambda: session.agents.identity not in ("", old), timeout_s=30, what="the fresh agent"
        )
        figures.record(
            "kill agent job (SIP call)",
            fresh_agent_dispatched_s=round(dispatched_at - killed_at, 2),
            fresh_agent_joined_s=round(back_at - killed_at, 2),
            limit_s=DEAD_AIR_LIMIT_S,
        )
        # the time is a figure (recorded above, docs/reliability.md), never asserted
        assert not session.closed
        call.sipp.send_hangup_cue()
        assert await asyncio.wait_for(session.wait_closed(), 30) == "hangup"
        await _room_gone(fault_api, session.room_name)
    finally:
        await call.close()


async def test_killing_livekit_sip_ends_its_call_cleanly_and_the_next_call_works(
    gateway: SIPGateway,
    fault_stack: FaultStack,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    tmp_path: Path,
) -> None:
    call = await _dial(fault_stack, tmp_path)
    try:
        session = await _answered_session(gateway, call, set())
        killed_at = time.monotonic()
        fault_stack.sip.kill()
        fault_stack.sip.start()
        restarted_s = time.monotonic() - killed_at
        reason = await asyncio.wait_for(session.wait_closed(), 90)
        ended_s = time.monotonic() - killed_at
        await _room_gone(fault_api, session.room_name)
    finally:
        await call.close()
    call = await _dial(fault_stack, tmp_path)
    try:
        again = await _answered_session(gateway, call, {session.id})
        new_call_s = time.monotonic() - killed_at
        call.sipp.send_hangup_cue()
        await asyncio.wait_for(again.wait_closed(), 30)
    finally:
        await call.close()
    figures.record(
        "kill -9 livekit-sip mid-call (restarted at once)",
        livekit_sip_back_s=round(restarted_s, 2),
        call_reported_ended_s=round(ended_s, 2),
        ended_reason=reason,
        next_call_answered_after_kill_s=round(new_call_s, 2),
    )
    assert reason in ("hangup", "room_closed")


async def test_the_gateway_survives_a_livekit_server_restart(
    gateway: SIPGateway,
    fault_stack: FaultStack,
    fault_worker: WorkerHandle,
    fault_api: api.LiveKitAPI,
    figures: Figures,
    tmp_path: Path,
) -> None:
    offered: list[CallInfo] = []
    gateway.on_call(offered.append)
    call = await _dial(fault_stack, tmp_path)
    try:
        session = await _answered_session(gateway, call, set())
        killed_at = time.monotonic()
        fault_stack.server.kill()
        fault_stack.server.start()
        back_s = time.monotonic() - killed_at
        reason = await asyncio.wait_for(session.wait_closed(), 90)
        ended_s = time.monotonic() - killed_at
        await _room_gone(fault_api, session.room_name)
    finally:
        await call.close()
    fault_worker.ensure()
    call = await _dial(fault_stack, tmp_path)
    try:
        again = await _answered_session(gateway, call, {session.id})
        new_call_s = time.monotonic() - killed_at
        call.sipp.send_hangup_cue()
        await asyncio.wait_for(again.wait_closed(), 30)
    finally:
        await call.close()
    figures.record(
        "livekit-server killed and restarted under a SIP call",
        server_back_s=round(back_s, 2),
        call_reported_ended_s=round(ended_s, 2),
        ended_reason=reason,
        next_call_offered_and_answered_s=round(new_call_s, 2),
    )
    # the scan loop went on: the next call was offered to on_call; the call cut off by the
    # restart, back in a room once the server was, was hung up instead of offered again
    assert [c.call_id for c in offered] == [session.id, again.id]
    assert reason in ("hangup", "room_closed")
    deadline = time.monotonic() + 60
    while any(n.startswith(ROOM_PREFIX) for n in await room_names(fault_api)):
        assert time.monotonic() < deadline, "SIP call rooms left behind"
        await asyncio.sleep(0.5)
