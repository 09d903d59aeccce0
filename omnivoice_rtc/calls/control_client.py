"""RoomCallControl: call control from inside a call's room, for the agent's tools and the
operator CLI: the one place that decides how each action reaches a route.

=============  ========================================  ==================================
action         SIP call (``route == "sip"``)              carrier call (the shim owns it)
=============  ========================================  ==================================
transfer       ``TransferSIPParticipant`` (REFER)         request to the shim's caller
hangup         reason attribute + ``RemoveParticipant``   participant on
dtmf           ``publish_dtmf`` (RFC 4733 on the leg)     ``omnivoice.call_control``; the
                                                          shim answers (carrier REST,
                                                          in-band tones)
hold / resume  the ``hold`` hook: the agent's own :class:`~omnivoice_rtc.agent.call_hold.CallHold`
               (tools), or ``hold``/``resume`` on ``omnivoice.control`` (CLI)
warm transfer  the ``warm_transfer`` hook (CLI:            not supported (the shim plays
               ``warm_transfer`` on ``omnivoice.control``)  only the agent's track)
=============  ========================================  ==================================

Before a transfer the ``speak`` hook has the agent say the line (the agent says it
itself; the CLI sends ``speak`` on ``omnivoice.control``). A request to the shim that
gets no reply within ``reply_timeout_s`` is a ProviderError, except that a hang-up or
transfer whose caller left the room meanwhile succeeded.

Scale-out: the shim's caller participant lives in the replica that owns the call, so
a request reaches the owner wherever it runs; nothing here needs to know replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from livekit import api, rtc

from omnivoice_rtc._errors import ProviderError, SessionClosedError, UnsupportedActionError
from omnivoice_rtc.calls.control import (
    DEFAULT_HANGUP_REASON,
    DEFAULT_TRANSFER_LINE,
    SIP_ROUTE,
    CallAction,
    Capabilities,
    check_digits,
    check_reason,
    parse_transfer_target,
)
from omnivoice_rtc.calls.control_wire import (
    CALL_CONTROL_TOPIC,
    CAPABILITIES,
    ControlReply,
    ControlRequest,
    decode_packet,
)
from omnivoice_rtc.calls.sip_actions import hang_up_sip, send_sip_digits, transfer_sip

__all__ = ["HoldHook", "RoomCallControl", "SpeakHook", "WarmTransferHook"]

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT_S: Final = 20.0
"""How long a request to the shim waits for its answer (s); a transfer dials out."""

RESEND_S: Final = 1.0
"""A request not answered within this long (s) is sent again (same id)."""

SpeakHook = Callable[[str], Awaitable[None]]
"""Has the agent say a line and returns once it has."""
HoldHook = Callable[[bool], Awaitable[None]]
"""Puts the caller on hold (True) or takes them off it (False)."""
WarmTransferHook = Callable[[str, str], Awaitable[bool]]
"""Asks the call's agent for a warm transfer to ``to`` with ``summary``: True connected,
False not answered (:func:`omnivoice_rtc.calls.warm_transfer_status.await_warm_transfer`)."""


class RoomCallControl:
    """Call control of the caller ``caller`` (identity) in the connected ``room``.

    ``route``: ``sip`` or a carrier name (``CallContext.route``); ``livekit_api``: the
    server API (SIP transfer and hang-up); ``speak`` / ``hold``: see the module
    docstring; ``reply_timeout_s``: see :data:`DEFAULT_REPLY_TIMEOUT_S`.
    """

    def __init__(
        self,
        *,
        room: rtc.Room,
        caller: str,
        route: str,
        livekit_api: Callable[[], api.LiveKitAPI],
        speak: SpeakHook,
        hold: HoldHook,
        warm_transfer: WarmTransferHook | None = None,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> None:
        self._room = room
        self._caller = caller
        self._route = route
        self._api = livekit_api
        self._speak = speak
        self._hold = hold
        self._warm_transfer = warm_transfer
        self._timeout_s = reply_timeout_s
        self._waiting: dict[str, asyncio.Future[ControlReply]] = {}
        self._caller_left = asyncio.Event()
        self._capabilities = Capabilities.of(route)
        room.on("data_received", self._on_data)
        room.on("participant_disconnected", self._on_left)

    def close(self) -> None:
        """Stop listening to the room (pending requests fail with SessionClosedError)."""
        self._room.off("data_received", self._on_data)
        self._room.off("participant_disconnected", self._on_left)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(SessionClosedError("call control closed"))

    @property
    def is_sip(self) -> bool:
        return self._route == SIP_ROUTE

    @property
    def capabilities(self) -> Capabilities:
        """The route's capabilities as last fetched (:meth:`refresh_capabilities`); until
        then every action is assumed supported and the owner decides."""
        return self._capabilities

    async def refresh_capabilities(self) -> Capabilities:
        """Ask the call's owner (carrier calls); SIP calls support every action."""
        if not self.is_sip:
            reply = await self._request(ControlRequest(action=CAPABILITIES))
            unsupported = reply.result.get("unsupported", {})
            if isinstance(unsupported, dict):
                self._capabilities = Capabilities.of(
                    self._route, {str(k): str(v) for k, v in unsupported.items()}
                )
        return self._capabilities

    # ------------------------------------------------------------------ actions

    async def transfer(self, to: str, *, say: str | None = None) -> None:
        self._capabilities.require(CallAction.TRANSFER)
        target = parse_transfer_target(to)
        line = DEFAULT_TRANSFER_LINE if say is None else say.strip()
        if line:
            await self._speak(line)
        if self.is_sip:
            await transfer_sip(
                self._api(), room=self._room.name, identity=self._caller, target=target
            )
            return
        await self._request(
            ControlRequest(action=CallAction.TRANSFER, args={"to": target.value, "say": ""}),
            ends_call=True,
        )

    async def warm_transfer(self, to: str, summary: str) -> bool:
        """Have the call's agent warm-transfer the caller to ``to`` (E.164 or SIP URI)
        after briefing them with ``summary``: True connected, False not answered (the
        agent is back with the caller). SIP calls only (carriers: UnsupportedActionError
        with the reason), and only with the ``warm_transfer`` hook (the operator CLI)."""
        self._capabilities.require(CallAction.WARM_TRANSFER)
        target = parse_transfer_target(to)
        if not summary.strip():
            raise ValueError("warm transfer: summary must not be empty")
        if self._warm_transfer is None:
            raise UnsupportedActionError(
                f"{self._route}: warm_transfer is not supported here: the call's agent "
                "does it with its warm_transfer_call tool",
                action=CallAction.WARM_TRANSFER.value,
                route=self._route,
            )
        return await self._warm_transfer(target.value, summary)

    async def hold(self) -> None:
        self._capabilities.require(CallAction.HOLD)
        await self._hold(True)

    async def resume(self) -> None:
        self._capabilities.require(CallAction.RESUME)
        await self._hold(False)

    async def send_dtmf(self, digits: str) -> None:
        self._capabilities.require(CallAction.DTMF)
        digits = check_digits(digits)
        if self.is_sip:
            await send_sip_digits(self._room.local_participant, digits)
            return
        await self._request(ControlRequest(action=CallAction.DTMF, args={"digits": digits}))

    async def hangup(self, reason: str = DEFAULT_HANGUP_REASON) -> None:
        check_reason(reason)
        if self.is_sip:
            await hang_up_sip(
                self._api(), room=self._room.name, identity=self._caller, reason=reason
            )
            return
        await self._request(
            ControlRequest(action=CallAction.HANGUP, args={"reason": reason}), ends_call=True
        )

    # ------------------------------------------------------------------ transport

    async def _request(self, request: ControlRequest, *, ends_call: bool = False) -> ControlReply:
        """Send ``request`` to the caller participant (the shim) and wait for its reply."""
        if self._caller not in self._room.remote_participants:
            raise SessionClosedError(f"call participant {self._caller!r} is not in the room")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[ControlReply] = loop.create_future()
        self._waiting[request.id] = waiter
        left: asyncio.Future[Any] = asyncio.ensure_future(self._caller_left.wait())
        deadline = loop.time() + self._timeout_s
        done: set[asyncio.Future[Any]] = set()
        try:
            while not done and loop.time() < deadline:
                # sent again until answered: a participant that just joined may not be
                # known to the owner's SDK yet, which then drops its packets (the owner
                # carries out each request id once)
                await self._room.local_participant.publish_data(
                    request.encode(),
                    reliable=True,
                    topic=CALL_CONTROL_TOPIC,
                    destination_identities=[self._caller],
                )
                pending: set[asyncio.Future[Any]] = {waiter, left}
                done, _ = await asyncio.wait(
                    pending,
                    timeout=min(RESEND_S, max(0.0, deadline - loop.time())),
                    return_when=asyncio.FIRST_COMPLETED,
                )
        finally:
            self._waiting.pop(request.id, None)
            left.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await left
        if waiter in done:
            reply = waiter.result()
            reply.raise_for_error(action=request.action, route=self._route)
            return reply
        if left in done:
            if ends_call:  # the call ended as asked before the answer could be sent
                return ControlReply(request.id, True)
            raise SessionClosedError(f"call participant {self._caller!r} left")
        raise ProviderError(
            f"{self._route}: no answer to {request.action} within {self._timeout_s:g} s"
        )

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != CALL_CONTROL_TOPIC:
            return
        sender = packet.participant.identity if packet.participant is not None else ""
        if sender != self._caller:
            return
        try:
            reply = decode_packet(packet.data)
        except ValueError as exc:
            logger.warning("bad call control reply", extra={"error": str(exc)})
            return
        if isinstance(reply, ControlReply):
            waiter = self._waiting.get(reply.id)
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)

    def _on_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self._caller:
            self._caller_left.set()
