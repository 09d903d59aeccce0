"""e2e, SIP route of the "Done when" check: the same user module as the browser and Twilio
tests (``tests.agents.pizza_shop:build``) answers an inbound SIP call.

SIPp INVITEs livekit-sip with an ``X-Customer-Id`` header (the trunk maps X- headers to
attributes: ``include_headers``), a real RTP peer listens and speaks. The factory must see
route ``sip``, the caller and the dialled number in E.164, the SIP Call-ID and the
header; the agent greets once the call is answered, and calls the user's tool when the
caller asks to order. Prints SIP answer -> first greeting audio at the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.sip.provisioning import apply, delete
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import free_port
from omnivoice_rtc.types import AgentTranscript, Event, EventType, ToolCall, UserTranscript
from tests.agents import pizza_shop
from tests.conftest import require_binary
from tests.e2e.sip.helpers import (
    CALLER,
    DID,
    ROOM_PREFIX,
    livekit_settings,
    wait_for,
    wait_for_event,
)
from tests.e2e.sip.rtp_peer import RtpPeer, espeak_ulaw
from tests.e2e.sip.sipp import start_sipp
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

SENTENCE = "I would like to order a pizza"
ATTEMPTS = 3
CUSTOMER_HEADER = "X-Customer-Id: c-77"


@pytest.fixture(scope="module")
def user_agent_worker(
    sip_stack: SIPStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentWorker]:
    worker = start_agent_worker(
        sip_stack.livekit,
        log_dir=tmp_path_factory.getbasetemp(),
        env={"OMNIVOICE_AGENT": "tests.agents.pizza_shop:build"},
    )
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
async def gateway(
    sip_stack: SIPStack, sip_api: api.LiveKitAPI, user_agent_worker: AgentWorker, tmp_path: Path
) -> AsyncIterator[SIPGateway]:
    await delete(None, client=sip_api)
    rules = {
        "inbound_trunk": {
            "name": "e2e-inbound",
            "numbers": [DID],
            "allowed_addresses": ["127.0.0.1/32"],
            "include_headers": "SIP_X_HEADERS",  # X- headers -> sip.h.* attributes
        },
        "dispatch_rule": {
            "name": "e2e-dispatch",
            "rule": {"dispatch_rule_individual": {"room_prefix": ROOM_PREFIX}},
            "room_config": {"agents": [{"agent_name": "${OMNIVOICE_AGENT_NAME}"}]},
            "attributes": {"omnivoice.carrier": "e2e"},
        },
    }
    path = tmp_path / "e2e.json"
    path.write_text(json.dumps(rules), encoding="utf-8")
    await apply(path, client=sip_api, env={"OMNIVOICE_AGENT_NAME": user_agent_worker.agent_name})
    gw = SIPGateway(
        livekit=livekit_settings(sip_stack),
        options=SIPGatewayOptions(agent_name=user_agent_worker.agent_name, poll_interval_s=0.2),
    )
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def test_a_users_agent_answers_an_inbound_sip_call(
    gateway: SIPGateway, sip_stack: SIPStack, user_agent_worker: AgentWorker, tmp_path: Path
) -> None:
    await asyncio.to_thread(user_agent_worker.wait_warm)  # a running worker, not a cold one
    rtp = await RtpPeer.open()
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=sip_stack.sip_address,
        service=DID,
        port=free_port(protocol="udp"),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": str(rtp.port)},
        replace={
            "User-Agent: SIPp omnivoice-e2e\n": f"User-Agent: SIPp omnivoice-e2e\n{CUSTOMER_HEADER}\n"
        },
    )
    events: list[Event] = []
    reader: asyncio.Task[None] | None = None
    try:

        async def one_session() -> SIPSession | None:
            sessions = gateway.list_sessions()
            return sessions[0] if sessions and isinstance(sessions[0], SIPSession) else None

        session = await wait_for(one_session, timeout_s=60, what="a SIP session in the gateway")

        async def read() -> None:
            async for event in session.events():
                events.append(event)

        reader = asyncio.get_running_loop().create_task(read())
        remote = await sipp.remote_media(timeout_s=60)  # the 200 OK's SDP: the call is answered
        answered = time.monotonic()
        rtp.start(remote)

        async def greeting_heard() -> float | None:
            return rtp.first_loud_after(answered)

        first_loud = await wait_for(greeting_heard, timeout_s=60, what="the greeting at the phone")
        # livekit-sip starts media while the call rings; the 200 OK is polled from SIPp's
        # message log every 0.1 s, so the figure may be up to ~0.1 s short
        print(
            "greeting (sip, e2e): SIP answer (200 OK) -> first greeting audio at the phone "
            f"{first_loud - answered:.3f} s"
        )
        greeting = await wait_for_event(events, EventType.AGENT_TRANSCRIPT, timeout_s=60)
        assert pizza_shop.GREETING.startswith(greeting.data_as(AgentTranscript).text)

        speech = espeak_ulaw(SENTENCE)
        tool: Event | None = None
        for _ in range(ATTEMPTS):
            marker = len(events)
            rtp.play(speech)
            with contextlib.suppress(AssertionError):
                tool = await wait_for_event(events, EventType.TOOL_CALL, timeout_s=30, since=marker)
                break
        heard = [e.data.text for e in events if isinstance(e.data, UserTranscript)]
        assert tool is not None, f"the tool was never called; heard {heard}"
        assert tool.data_as(ToolCall).name == "order"
        assert tool.data_as(ToolCall).result == pizza_shop.TOOL_RESULT

        # the call's session (observing the room) counts it and files it on the answer
        # (whole, or cut short by the tail of a split sentence: pizza_shop.says_tool_result)
        async def result_said() -> bool | None:
            said = [e.data for e in events[marker:] if isinstance(e.data, AgentTranscript)]
            answered = any(
                pizza_shop.says_tool_result(t.text, interrupted=t.interrupted) for t in said
            )
            return True if answered else None

        await wait_for(result_said, timeout_s=60, what="the tool's result said")
        assert session.metrics().tool_call_count >= 1
        assert any(c.name == "order" for t in session.transcript() for c in t.tool_calls)

        seen = json.loads(pizza_shop.report_path(session.room_name).read_text(encoding="utf-8"))
        assert seen["route"] == "sip"
        assert seen["direction"] == "inbound"
        assert (seen["caller"], seen["callee"]) == (CALLER, DID)
        assert seen["carrier_call_id"] == sipp.call_id
        assert seen["room"] == session.room_name
        assert seen["participant_identity"] == session.identity
        assert seen["parameters"]["x-customer-id"] == "c-77"
        assert all(key.startswith("x-") for key in seen["parameters"])

        sipp.send_hangup_cue()
        assert await sipp.wait(timeout_s=30) == 0, sipp.messages("received")
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await sipp.kill()
        await rtp.aclose()
