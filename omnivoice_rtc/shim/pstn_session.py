"""PstnSession: the :class:`~omnivoice_rtc.types.Session` of a carrier media-stream call.

The shared bookkeeping (events from the agent's ``omnivoice.events`` topic, transcript,
metrics, commands on ``omnivoice.control``) is :class:`~omnivoice_rtc.calls.call_session.CallSession`;
this class adds the media-stream route: commands go out through the call's
:class:`~.call_bridge.CallBridge` room participant, ``interrupt`` also flushes the carrier's
playback buffer, and ``close`` hangs up through the bridge (carrier REST, then socket).

Call control (:mod:`omnivoice_rtc.calls.control`): ``capabilities`` come from the carrier's
profile (:meth:`~omnivoice_rtc.carriers.profile.CarrierProfile.capabilities`); a transfer
is the carrier's REST transfer, handed over through :meth:`CallBridge.hand_off` (end
reason ``transferred``, no REST hang-up after it); DTMF is the carrier's REST digits
where it has them (Telnyx, Vonage), else in-band (the digits' tone pairs join the
outbound audio); hold and resume go to the agent. Requests from the
agent or an operator arrive on ``omnivoice.call_control`` (:meth:`on_call_control`) and
are answered to their sender.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from livekit.rtc.participant import PublishDataError

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.calls.call_session import CallSession
from omnivoice_rtc.calls.control import TRANSFERRED, CallAction, Capabilities, TransferTarget
from omnivoice_rtc.calls.control_wire import (
    CALL_CONTROL_TOPIC,
    OPERATOR_IDENTITY_PREFIX,
    ControlRequest,
    decode_packet,
    execute,
)
from omnivoice_rtc.livekit.data_topics import CONTROL_TOPIC, ControlCommand, encode_control
from omnivoice_rtc.shim.call_bridge import CallBridge
from omnivoice_rtc.types import CallInfo

__all__ = ["CarrierCallActions", "PstnSession"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierCallActions:
    """What the carrier can do for a live call (from its gateway and profile):
    ``capabilities``, the REST ``transfer(call_id, target)`` and
    ``send_digits(call_id, digits)`` (False: no REST digits, send them in-band)."""

    capabilities: Capabilities
    transfer: Callable[[str, TransferTarget], Awaitable[None]]
    send_digits: Callable[[str, str], Awaitable[bool]]


def _no_actions(route: str) -> CarrierCallActions:
    async def transfer(call_id: str, target: TransferTarget) -> None:
        raise AssertionError("unreachable: transfer is unsupported")

    async def send_digits(call_id: str, digits: str) -> bool:
        return False

    reason = "no carrier gateway serves this session"
    return CarrierCallActions(
        capabilities=Capabilities.of(route, {CallAction.TRANSFER: reason}),
        transfer=transfer,
        send_digits=send_digits,
    )


class PstnSession(CallSession):
    """One phone call answered through a carrier media stream (Go ``Session``)."""

    def __init__(
        self,
        *,
        call: CallInfo,
        bridge: CallBridge | None = None,
        actions: CarrierCallActions | None = None,
    ) -> None:
        super().__init__(call=call)
        self._bridge = bridge
        self._actions = actions or _no_actions(call.carrier)
        self._requests_seen: deque[str] = deque(maxlen=64)

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
            await self._bridge.end(self.end_reason or "session_closed")

    def _audio_bytes(self) -> tuple[int, int]:
        counters = self._bridge.counters if self._bridge else None
        return (counters.bytes_in, counters.bytes_out) if counters else (0, 0)

    def on_closed(self, reason: str) -> None:
        """The bridge tore down (its ``on_closed`` hook)."""
        self.mark_closed(reason)

    # ------------------------------------------------------------------ call control

    def _capabilities(self) -> Capabilities:
        return self._actions.capabilities

    async def _transfer(self, target: TransferTarget) -> None:
        bridge = self._require_bridge()
        await bridge.hand_off(TRANSFERRED, lambda: self._actions.transfer(self.id, target))

    async def _send_dtmf(self, digits: str) -> None:
        bridge = self._require_bridge()
        if await self._actions.send_digits(self.id, digits):  # the carrier's REST digits
            return
        for digit in digits:
            bridge.on_agent_dtmf(digit)  # queued in-band after what is already playing

    def on_call_control(self, sender: str, payload: bytes) -> None:
        """An ``omnivoice.call_control`` packet from the room: a request from the call's
        agent or an operator (``omnivoice-operator-…``) is carried out and answered to
        its sender; anything else is logged and dropped."""
        bridge = self._bridge
        if bridge is None or bridge.closed:
            return
        if sender != bridge.room.agent_identity and not sender.startswith(OPERATOR_IDENTITY_PREFIX):
            logger.warning("call control from a stranger ignored", extra={"call_id": self.id})
            return
        try:
            request = decode_packet(payload)
        except ValueError as exc:
            logger.warning("bad call control packet", extra={"error": str(exc)})
            return
        if isinstance(request, ControlRequest) and request.id not in self._requests_seen:
            self._requests_seen.append(request.id)  # a resent request is carried out once
            bridge.spawn(self._answer(bridge, sender, request))

    async def _answer(self, bridge: CallBridge, sender: str, request: ControlRequest) -> None:
        reply = await execute(self, request)
        if bridge.closed:  # hung up or transferred: the sender sees the caller leave
            return
        try:
            await bridge.room.send_data(
                reply.encode(), topic=CALL_CONTROL_TOPIC, destinations=(sender,)
            )
        except PublishDataError as exc:  # reason: the room went away meanwhile
            logger.info("call control reply not sent", extra={"error": str(exc)})
