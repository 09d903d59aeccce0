"""BridgeState: the call bridge's state that its two mixins read, declared once.

:class:`~omnivoice_rtc.shim.call_bridge.CallBridge` sets these in ``__init__``;
:class:`~omnivoice_rtc.shim.bridge_playout.BridgePlayout` (agent -> caller) and
:class:`~omnivoice_rtc.shim.bridge_watchdog.BridgeWatchdog` (media timeout, agent loss)
declare only what each reads beyond them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

from omnivoice_rtc.shim.agent_playout import AgentPlayout
from omnivoice_rtc.shim.bridge_hooks import BridgeHooks
from omnivoice_rtc.shim.call_room import CallRoomBase
from omnivoice_rtc.shim.media_socket import MediaSocket
from omnivoice_rtc.types import CallInfo

__all__ = ["BridgeState"]


class BridgeState:
    """Attributes and the two bridge methods both mixins call (no behaviour here): the carrier socket, the call, its room, the hooks,
    the agent playout, the send loop's wake-up and whether an apology is playing."""

    ws: MediaSocket
    call: CallInfo
    room: CallRoomBase
    hooks: BridgeHooks
    playout: AgentPlayout
    _frames_ready: asyncio.Event
    _announcing: bool

    @property
    def closed(self) -> bool:
        raise NotImplementedError  # CallBridge's

    def spawn(self, coro: Coroutine[None, None, None]) -> None:
        raise NotImplementedError  # CallBridge's
