"""Call control on the SIP route, from the operator CLI end to end: SIPp calls livekit-sip,
the real agent answers; ``omnivoice-rtc calls active --json`` lists the call;
``calls dtmf`` reaches the caller's RTP as RFC 4733 events; ``calls hold`` makes the
caller hear the generated hold audio (its two chime notes, found in the RTP the caller
receives) and ``calls resume`` ends it; ``calls transfer`` makes livekit-sip send a REFER
whose ``Refer-To`` the SIPp scenario checks, then the call ends; ``calls hangup --reason``
is the observing session's end reason; the agent's own ``transfer_call`` tool sends a
REFER too."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.calls.live_calls import active_calls
from omnivoice_rtc.cli import main
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import Session
from tests.agents import call_desk
from tests.conftest import require_binary
from tests.e2e.hold_audio_checks import heard_hold_chime
from tests.e2e.sip.helpers import CALLER, DID, livekit_settings, provision, wait_for
from tests.e2e.sip.rtp_peer import RtpPeer, espeak_ulaw
from tests.e2e.sip.sipp import start_sipp
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TRANSFER_TO = "sip:desk@pbx.example.com"
SENTENCE = "Transfer this phone call to support"


def _env(monkeypatch: pytest.MonkeyPatch, stack: SIPStack) -> None:
    monkeypatch.setenv("LIVEKIT_URL", stack.livekit.url)
    monkeypatch.setenv("LIVEKIT_API_KEY", stack.livekit.api_key)
    monkeypatch.setenv("LIVEKIT_API_SECRET", stack.livekit.api_secret)


async def test_operator_lists_keys_holds_and_transfers_a_sip_call(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await provision(sip_api, tmp_path, agent_name=sip_agent_worker.agent_name)
    _env(monkeypatch, sip_stack)
    rtp = await RtpPeer.open()
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_refer.xml",
        remote=sip_stack.sip_address,
        service=DID,
        port=free_port(protocol="udp"),
        log_dir=tmp_path,
        keys={
            "caller": CALLER,
            "rtp_port": str(rtp.port),
            "refer_to": "<sip:desk@pbx\\.example\\.com>",
        },
    )
    try:
        rtp.start(await sipp.remote_media(timeout_s=60))

        async def live() -> list[object] | None:
            calls = await active_calls(sip_api)
            agents = [
                p
                for c in calls
                for p in (
                    await sip_api.room.list_participants(api.ListParticipantsRequest(room=c.room))
                ).participants
                if p.kind == api.ParticipantInfo.Kind.AGENT
            ]
            return list(calls) if calls and agents else None

        await wait_for(live, timeout_s=60, what="the SIP call and its agent")
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["calls", "active", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        (call,) = listed
        assert call["route"] == "sip"
        assert call["caller"] == CALLER
        assert call["callee"] == DID
        assert call["room"].startswith("sip-")
        assert call["carrier_call_id"]
        assert call["started"]
        call_id = call["id"]

        assert await asyncio.to_thread(main, ["calls", "dtmf", call_id, "12#"]) == 0, (
            capsys.readouterr().err
        )

        async def digits() -> list[str] | None:
            return rtp.received_digits if len(rtp.received_digits) >= 3 else None

        await wait_for(digits, timeout_s=20, what="three RFC 4733 digits at the caller")
        assert rtp.received_digits == ["1", "2", "#"]

        held_from = len(rtp.received_pcm)
        assert await asyncio.to_thread(main, ["calls", "hold", call_id]) == 0

        async def chimes() -> bool | None:
            heard = bytes(rtp.received_pcm[held_from:])
            return True if heard_hold_chime(heard, rate_hz=8000) else None

        await wait_for(chimes, timeout_s=30, what="the hold chime at the caller")
        assert await asyncio.to_thread(main, ["calls", "resume", call_id]) == 0

        capsys.readouterr()
        code = await asyncio.to_thread(
            main, ["calls", "transfer", call_id, TRANSFER_TO, "--say", ""]
        )
        out = capsys.readouterr()
        assert code == 0, out.err
        assert await sipp.wait(timeout_s=60) == 0, sipp.messages("received")
        (refer,) = [m for m in sipp.messages("received") if m.startswith("REFER ")]
        assert "Refer-To: <sip:desk@pbx.example.com>" in refer

        async def gone() -> bool | None:
            return True if not await active_calls(sip_api) else None

        await wait_for(gone, timeout_s=30, what="the transferred call to leave LiveKit")
        assert await asyncio.to_thread(main, ["calls", "hangup", call_id]) == 1  # no such call
    finally:
        await sipp.kill()
        await rtp.aclose()


async def test_an_operator_hang_up_is_the_sip_sessions_end_reason(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``calls hangup --reason`` removes the SIP participant (livekit-sip sends BYE) and
    the process observing the call (a SIPGateway) records that reason."""
    await provision(sip_api, tmp_path, agent_name=sip_agent_worker.agent_name)
    _env(monkeypatch, sip_stack)
    gateway = SIPGateway(
        livekit=livekit_settings(sip_stack),
        options=SIPGatewayOptions(agent_name=sip_agent_worker.agent_name, poll_interval_s=0.2),
    )
    await gateway.start()
    rtp = await RtpPeer.open()
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=sip_stack.sip_address,
        service=DID,
        port=free_port(protocol="udp"),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": str(rtp.port)},
    )
    try:
        rtp.start(await sipp.remote_media(timeout_s=60))

        async def own_session() -> Session | None:
            # this call's session (its SIP Call-ID): a call another test left live in the
            # shared stack must not be the one hung up
            for candidate in gateway.list_sessions():
                if (
                    isinstance(candidate, SIPSession)
                    and candidate.call.attributes.get("sip.callIDFull") == sipp.call_id
                ):
                    return candidate
            return None

        session = await wait_for(own_session, timeout_s=60, what="the gateway's SIP session")
        assert isinstance(session, SIPSession)
        code = await asyncio.to_thread(
            main, ["calls", "hangup", session.id, "--reason", "operator_done"]
        )
        assert code == 0
        reason = await asyncio.wait_for(session.wait_closed(), 30)
        assert reason == "operator_done"

        async def bye() -> bool | None:
            return True if "BYE" in sipp.received_requests() else None

        await wait_for(bye, timeout_s=30, what="livekit-sip's BYE at the caller")
    finally:
        await sipp.kill()
        await rtp.aclose()
        await gateway.stop()


async def test_the_agents_transfer_tool_sends_a_refer(
    sip_api: api.LiveKitAPI,
    sip_stack: SIPStack,
    tmp_path: Path,
) -> None:
    """A user's factory with the call-control tools (``tests.agents.call_desk``) on a SIP
    call: the caller asks for support, the local pipeline calls ``transfer_call``, the
    agent says its line and transfers through the job's LiveKit API: SIPp receives the
    REFER to the support number (``Refer-To: tel:+15550100``)."""
    require_binary("espeak-ng")
    worker = await asyncio.to_thread(
        start_agent_worker,
        sip_stack.livekit,
        log_dir=tmp_path,
        env={"OMNIVOICE_AGENT": "tests.agents.call_desk:build"},
    )
    try:
        await provision(sip_api, tmp_path, agent_name=worker.agent_name)
        rtp = await RtpPeer.open()
        sipp = await start_sipp(
            binary=require_binary("sipp"),
            scenario="uac_refer.xml",
            remote=sip_stack.sip_address,
            service=DID,
            port=free_port(protocol="udp"),
            log_dir=tmp_path,
            keys={
                "caller": CALLER,
                "rtp_port": str(rtp.port),
                "refer_to": "tel:\\+15550100",
            },
        )
        try:
            rtp.start(await sipp.remote_media(timeout_s=60))

            async def greeted() -> bool | None:  # asking over the greeting is cut short
                loud = [r.at for r in rtp.received if r.rms > 300]
                return True if loud and time.monotonic() - loud[-1] > 1.0 else None

            await wait_for(greeted, timeout_s=60, what="the greeting to end")
            speech = espeak_ulaw(SENTENCE)

            async def referred() -> bool | None:
                return True if "REFER" in sipp.received_requests() else None

            for _ in range(3):
                rtp.play(speech)
                try:
                    await wait_for(referred, timeout_s=30, what="a REFER")
                    break
                except AssertionError:
                    continue
            (refer,) = [m for m in sipp.messages("received") if m.startswith("REFER ")]
            assert f"Refer-To: tel:{call_desk.SUPPORT}" in refer
            assert await sipp.wait(timeout_s=60) == 0, sipp.messages("received")
        finally:
            await sipp.kill()
            await rtp.aclose()
    finally:
        await asyncio.to_thread(worker.stop)
