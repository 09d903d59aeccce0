"""PstnSession: the :class:`~omnivoice_rtc.types.Session` of a carrier media-stream call.

The shared bookkeeping (events from the agent's ``omnivoice.events`` topic, transcript,
metrics, commands on ``omnivoice.control``) is :class:`~omnivoice_rtc.calls.call_session.CallSession`;
this class adds the media-stream route: commands go out through the call's
:class:`~.call_bridge.CallBridge` room participant, ``interrupt`` also flushes the carrier's
playback buffer, and ``close`` hangs up through the bridge (carrier REST, then socket).
"""

from __future__ import annotations

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.calls.call_session import CallSession
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, encode_control
from omnivoice_rtc.shim.call_bridge import CallBridge
from omnivoice_rtc.types import CallInfo

__all__ = ["PstnSession"]


class PstnSession(CallSession):
    """One phone call answered through a carrier media stream (Go ``Session``)."""

    def __init__(self, *, call: CallInfo, bridge: CallBridge | None = None) -> None:
        super().__init__(call=call)
        self._bridge = bridge

    def attach(self, bridge: CallBridge) -> None:
        self._bridge = bridge

    @property
    def bridge(self) -> CallBridge | None:
        return self._bridge

    def _require_bridge(self) -> CallBridge:
        if self._bridge is None or self._bridge.closed:
            raise SessionClosedError(f"session {self.id!r} is closed")
        return self._bridge

    async def _send_control(self, command: ControlCommand) -> None:
        # No participant: the agent applies it to the sender's (the caller's) own session.
        await self._require_bridge().room.send_data(encode_control(command), topic=CONTROL_TOPIC)

    def _on_interrupt(self) -> None:
        bridge = self._require_bridge()
        bridge.spawn(bridge.flush("session_interrupt"))

    async def _hangup(self) -> None:
        if self._bridge is not None and not self._bridge.closed:
            await self._bridge.end("session_closed")

    def _audio_bytes(self) -> tuple[int, int]:
        counters = self._bridge.counters if self._bridge else None
        return (counters.bytes_in, counters.bytes_out) if counters else (0, 0)

    def on_closed(self, reason: str) -> None:
        """The bridge tore down (its ``on_closed`` hook)."""
        self.mark_closed(reason)
