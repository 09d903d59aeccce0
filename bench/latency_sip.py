"""bench/latency.py's ``sip`` rows: a SIP phone through the local livekit-sip to the agent.

    SipPhone (bench/latency_sip_caller.py: INVITE over UDP, 20 ms PCMU packets in real
    time) --SIP + RTP--> livekit-sip (the bench's SIP stack: redis + livekit-server +
    livekit-sip, tests/plugins/sip_stack.py) --the caller's track (a SIP participant)-->
    the row's room on the bench's livekit-server <--> the agent in this process
    --agent track--> livekit-sip (8 kHz PCMU) --RTP--> the phone.

Each row has an inbound trunk of its own number (only 127.0.0.1 may call) and a direct
dispatch rule (``SIPDispatchRuleDirect``) that puts that trunk's calls in the row's room, so
the called number decides the peer: ``sip``/``ours`` is
:class:`~omnivoice_rtc.agent.livekit_gateway.LiveKitGateway` joined to its room (as the
``webrtc``/``ours`` row), ``sip``/``bare`` is :class:`bench.pipeline.BareAgent`, a plain
``AgentSession`` on the same parts. No agent is dispatched by the rules: both agents are in
their rooms before the call. Mouth-to-ear therefore includes livekit-sip both ways (its
PCMU <-> Opus transcoding and resampling), the room both ways (WebRTC transport, the
agent's and livekit-sip's jitter buffers) and the agent.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from livekit import api

from bench.latency_rows import Row
from bench.latency_sip_caller import SIP_RATE_HZ, SipPhone
from bench.latency_twilio_caller import telephone_band
from bench.pipeline import BareAgent
from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.types import LiveKitCredentials, WebRTCConfig
from tests.plugins.sip_stack import SIPStack

__all__ = ["NUMBERS", "SipAgents", "sip_rows"]

NUMBERS: Final = {"ours": "+15550200001", "bare": "+15550200002"}
"""The number each row's phone calls (its own trunk and dispatch rule)."""
_SESSION_WAIT_S: Final = 30.0
"""How long our agent may take to start its session once the call joined its room (s)."""


class SipAgents:
    """The agents of the ``sip`` rows; :meth:`aclose` stops them (hang up first)."""

    def __init__(self) -> None:
        self.gateway: LiveKitGateway | None = None
        self.bare: BareAgent | None = None

    async def aclose(self) -> None:
        try:
            if self.gateway is not None:
                await self.gateway.stop()
        finally:
            if self.bare is not None:
                await self.bare.aclose()


async def _provision(stack: SIPStack, rooms: dict[str, str]) -> None:
    """Per peer: an inbound trunk answering ``NUMBERS[peer]`` for 127.0.0.1 and a direct
    dispatch rule from that trunk to ``rooms[peer]``."""
    server = stack.livekit
    lk = api.LiveKitAPI(url=server.http_url, api_key=server.api_key, api_secret=server.api_secret)
    try:
        for peer, room in rooms.items():
            trunk = await lk.sip.create_inbound_trunk(
                api.CreateSIPInboundTrunkRequest(
                    trunk=api.SIPInboundTrunkInfo(
                        name=f"bench-latency-{peer}",
                        numbers=[NUMBERS[peer]],
                        allowed_addresses=["127.0.0.1/32"],
                    )
                )
            )
            await lk.sip.create_dispatch_rule(
                api.CreateSIPDispatchRuleRequest(
                    dispatch_rule=api.SIPDispatchRuleInfo(
                        name=f"bench-latency-{peer}",
                        trunk_ids=[trunk.sip_trunk_id],
                        rule=api.SIPDispatchRule(
                            dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name=room)
                        ),
                    )
                )
            )
    finally:
        await lk.aclose()


async def sip_rows(
    stack: SIPStack, build: Callable[[], Any], reply: np.ndarray
) -> tuple[list[Row], SipAgents]:
    """The connected ``sip`` rows (ours, bare: their phones in the call, the agents'
    sessions started) and their agents, to close after the phones. ``build``: the fake
    pipeline parts; ``reply``: the pre-rendered reply (int16 at 24000 Hz), heard by these
    phones as :func:`telephone_band` of it."""
    server = stack.livekit
    rooms = {peer: f"lat-sip-{peer}-{secrets.token_hex(3)}" for peer in NUMBERS}
    await _provision(stack, rooms)
    agents = SipAgents()
    rows: list[Row] = []
    try:
        agents.gateway = LiveKitGateway(
            config=WebRTCConfig(
                livekit=LiveKitCredentials(
                    server_url=server.url, api_key=server.api_key, api_secret=server.api_secret
                )
            ),
            parts_factory=build,
            drain_timeout_s=1.0,
        )
        await agents.gateway.join_room(rooms["ours"])
        agents.bare = BareAgent(server, rooms["bare"], build())
        await agents.bare.start()
        reference = telephone_band(reply)
        for peer in ("ours", "bare"):
            phone = SipPhone(host=stack.sip_host, port=stack.sip_port, callee=NUMBERS[peer])
            rows.append(Row("sip", peer, phone, reference=reference, rate_hz=SIP_RATE_HZ))
            await phone.connect()
        for _ in range(int(_SESSION_WAIT_S / 0.05)):  # our session starts once the call joined
            if agents.gateway.sessions():
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError(
                f"no agent session in the SIP call's room within {_SESSION_WAIT_S} s"
            )
        rows[0].watch(agents.gateway.sessions()[0].agent_session)
        rows[1].watch(agents.bare.session)
    except BaseException:
        for row in rows:
            await row.client.aclose()
        await agents.aclose()
        raise
    return rows, agents
