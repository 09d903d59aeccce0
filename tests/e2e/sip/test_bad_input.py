"""Bad inbound calls: an INVITE to a number no trunk serves, or from an address the
trunk does not allow, is refused by livekit-sip and creates no room.

livekit-sip v1.0.0 answers such an INVITE with 100 only and then drops it without a
final response (it logs ``Closing inbound call ... "reason": "flood"``): a scanner
learns nothing. The caller's transaction times out; no call is set up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc.stack import free_port
from tests.conftest import require_binary
from tests.e2e.sip.helpers import CALLER, DID, provision, room_names
from tests.e2e.sip.sipp import start_sipp
from tests.plugins.agent_worker import AgentWorker
from tests.plugins.sip_stack import SIPStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.mark.parametrize(
    ("to", "local_ip"),
    [("+15550109999", "127.0.0.1"), (DID, "127.0.0.2")],
    ids=["unknown-number", "disallowed-address"],
)
async def test_invite_is_refused_and_creates_no_room(
    sip_stack: SIPStack,
    sip_api: api.LiveKitAPI,
    sip_agent_worker: AgentWorker,
    tmp_path: Path,
    to: str,
    local_ip: str,
) -> None:
    await provision(sip_api, tmp_path, agent_name=sip_agent_worker.agent_name)
    rooms_before = await room_names(sip_api)
    sipp = await start_sipp(
        binary=require_binary("sipp"),
        scenario="uac_call.xml",
        remote=sip_stack.sip_address,
        service=to,
        port=free_port(protocol="udp", host=local_ip),
        log_dir=tmp_path,
        keys={"caller": CALLER, "rtp_port": "9"},
        local_ip=local_ip,
        timeout_s=15,
    )
    try:
        assert await sipp.wait(timeout_s=60) != 0
        assert all(code < 200 or code >= 400 for code in sipp.status_codes()), sipp.status_codes()
        refusals = [
            line
            for line in sip_stack.log_text().splitlines()
            if "Closing inbound call" in line and f'"sipCallID": "{sipp.call_id}"' in line
        ]
        assert len(refusals) == 1, "livekit-sip did not log refusing the call"
        assert '"reason": "flood"' in refusals[0]
        # no room was created for it (earlier tests' rooms may still be going away)
        assert await room_names(sip_api) - rooms_before == set()
    finally:
        await sipp.kill()
