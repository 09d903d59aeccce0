"""bench/latency.py's ``twilio``/``ours`` row: a simulated Twilio caller through our shim
and the call's LiveKit room to the agent.

    TwilioCaller --Twilio Media Streams over a WebSocket--> the web app's shim endpoint
    (/carriers/twilio/media, a Twilio profile; bench/shim.py ``_start_shim``) --8 kHz
    caller track--> the call's room on the bench's livekit-server <--> the agent:
    LiveKitGateway's session in this process (joins the call's room as a participant of
    kind agent, which is how the shim recognises the call's agent) with the bench's fakes
    --agent track--> the shim (subscribed at 8 kHz, μ-law) --> back to the caller.

So the row's mouth-to-ear includes the shim both ways, the room (Opus, WebRTC transport and
jitter buffers on both legs) and the caller's playout. The shim waits for its agent for
an hour (``agent_join_timeout_s``), so a slow agent start cannot end the call.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import web

from bench.latency_rows import Row
from bench.latency_twilio_caller import TWILIO_RATE_HZ, TwilioCaller, telephone_band
from bench.shim import _start_shim
from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
from omnivoice_rtc.livekit.names import call_room_name
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.types import LiveKitCredentials, WebRTCConfig
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["ShimAndAgent", "twilio_ours_row"]

_SESSION_WAIT_S = 30.0
"""How long the agent may take to start its session once the shim joined the room (s)."""


class ShimAndAgent:
    """What the ``twilio``/``ours`` row runs besides its caller: the shim's web app and
    the agent in the call's room. :meth:`aclose` stops both (close the caller first)."""

    def __init__(self, *, runner: web.AppRunner, agent: LiveKitGateway) -> None:
        self._runner, self.agent = runner, agent

    async def aclose(self) -> None:
        await self.agent.stop()
        await self._runner.cleanup()


async def twilio_ours_row(
    server: LiveKitServer, build: Callable[[], Any], reply: np.ndarray
) -> tuple[Row, ShimAndAgent]:
    """The connected row (its caller in the call, the agent's session started) and what to
    close after the caller. ``build``: the fake pipeline parts; ``reply``: the pre-rendered
    reply (int16 at 24000 Hz), heard by this caller as :func:`telephone_band` of it."""
    lk = LiveKitSettings(url=server.url, api_key=server.api_key, api_secret=server.api_secret)
    runner, port, shim = await _start_shim(lk, "none")  # no dispatch: the agent joins itself
    agent = LiveKitGateway(
        config=WebRTCConfig(
            livekit=LiveKitCredentials(
                server_url=server.url, api_key=server.api_key, api_secret=server.api_secret
            )
        ),
        parts_factory=build,
        drain_timeout_s=1.0,
    )
    owner = ShimAndAgent(runner=runner, agent=agent)
    call_id = "CA" + secrets.token_hex(16)
    marks: list[tuple[str, float]] = []
    caller = TwilioCaller(
        url=f"ws://127.0.0.1:{port}/carriers/twilio/media",
        call_id=call_id,
        token=await shim.runtime.tokens.issue(call_id, "twilio"),
        marks=marks,
    )
    try:
        await agent.join_room(call_room_name("twilio", call_id))
        await caller.connect()
        row = Row(
            "twilio",
            "ours",
            caller,
            marks=marks,
            reference=telephone_band(reply),
            rate_hz=TWILIO_RATE_HZ,
        )
        for _ in range(int(_SESSION_WAIT_S / 0.05)):  # the session starts once the shim joined
            if agent.sessions():
                break
            await asyncio.sleep(0.05)
        else:
            raise TimeoutError(f"no agent session in the call's room within {_SESSION_WAIT_S} s")
        row.watch(agent.sessions()[0].agent_session)
    except BaseException:
        await caller.aclose()
        await owner.aclose()
        raise
    return row, owner
