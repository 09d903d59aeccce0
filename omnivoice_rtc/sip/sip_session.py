"""SIPSession: the :class:`~omnivoice_rtc.types.Session` of one SIP call in a LiveKit room.

The agent worker runs the conversation in the room; this object watches it from an
observer participant: the agent's events arrive on the ``omnivoice.events``
data topic (for this caller's identity only), transcript and metrics are built from
them, and the session ends when the SIP participant leaves (BYE) or is removed.

The observer also keeps the agent alive (:class:`~omnivoice_rtc.calls.agent_tracker.AgentTracker`):
it pings it (an RPC its SDK acknowledges while its process lives) and reports an agent that
left without ending its session, never joined, or stopped answering to ``on_agent_gone``;
the gateway then dispatches a fresh agent or plays the apology and hangs up. To ping, the
observer must be visible (an agent's SDK cannot acknowledge a hidden participant's RPC:
measured), so it joins as a participant of kind agent (:func:`~omnivoice_rtc.livekit.tokens.agent_token`),
which agent jobs never serve; it publishes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Final

from livekit import api, rtc

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.calls.agent_tracker import AgentDeparture, AgentTracker
from omnivoice_rtc.calls.call_session import CallSession
from omnivoice_rtc.calls.control import (
    END_REASON_ATTRIBUTE,
    SIP_ROUTE,
    TRANSFERRED,
    CallAction,
    Capabilities,
    TransferTarget,
)
from omnivoice_rtc.calls.liveness import ping_agent
from omnivoice_rtc.calls.sip_actions import send_sip_digits, transfer_sip
from omnivoice_rtc.calls.teardown import teardown_step
from omnivoice_rtc.calls.warm_transfer import (
    WARM_TRANSFERRED,
    is_handed_over,
    is_transfer_target,
)
from omnivoice_rtc.calls.warm_transfer_status import await_warm_transfer
from omnivoice_rtc.livekit.data_topics import (
    CONTROL_TOPIC,
    EVENTS_TOPIC,
    ControlCommand,
    decode_event_packet,
    encode_control,
)
from omnivoice_rtc.livekit.rooms import remove_participant
from omnivoice_rtc.livekit.tokens import agent_token
from omnivoice_rtc.settings import CallSettings, LiveKitSettings
from omnivoice_rtc.types import CallInfo, EventType

__all__ = [
    "APOLOGY_IDENTITY_PREFIX",
    "OBSERVER_IDENTITY_PREFIX",
    "SIPSession",
    "call_info_from_attributes",
]

logger = logging.getLogger(__name__)

APOLOGY_IDENTITY_PREFIX: Final = "omnivoice-apology-"
"""Identities of the server-side participants that play the apology (never the agent)."""
OBSERVER_IDENTITY_PREFIX: Final = "omnivoice-sip-observer-"
"""Identities of SIP sessions' observers (kind agent too; never the call's agent)."""


def call_info_from_attributes(
    attributes: dict[str, str], *, direction: str, fallback_id: str
) -> CallInfo:
    """CallInfo from a SIP participant's ``sip.*`` attributes.

    ``sip.phoneNumber`` is the remote party (caller on inbound, callee on outbound),
    ``sip.trunkPhoneNumber`` our number; ``sip.callID`` is LiveKit's call id
    (``fallback_id`` when missing). The carrier is the dispatch rule's
    ``omnivoice.carrier`` attribute when set (sip/<carrier>.json), else ``sip``.
    """
    remote = attributes.get("sip.phoneNumber", "")
    ours = attributes.get("sip.trunkPhoneNumber", "")
    inbound = direction == "inbound"
    return CallInfo(
        call_id=attributes.get("sip.callID") or fallback_id,
        from_=remote if inbound else ours,
        to=ours if inbound else remote,
        direction=direction,
        carrier=attributes.get("omnivoice.carrier", "sip"),
        attributes=dict(attributes),
    )


class SIPSession(CallSession):
    """One SIP call (Go ``Session``); created by :class:`~.gateway.SIPGateway`.

    Observes the call's room as an observer of kind agent; hangs up by removing the SIP
    participant (livekit-sip then sends BYE).
    """

    def __init__(
        self,
        *,
        call: CallInfo,
        room_name: str,
        identity: str,
        hangup: Callable[[SIPSession], Awaitable[None]],
        liveness: CallSettings | None = None,
        on_agent_gone: Callable[[SIPSession, AgentDeparture], None] | None = None,
        server_answers: Callable[[float], Awaitable[bool]] | None = None,
        livekit_api: Callable[[], api.LiveKitAPI] | None = None,
    ) -> None:
        super().__init__(call=call)
        self._livekit_api = livekit_api
        """The LiveKit server API (transfer); None: transfer is unsupported."""
        self.room_name = room_name
        self.identity = identity
        self._hangup_call = hangup
        self._room: rtc.Room | None = None
        self.liveness = liveness or CallSettings()
        self._on_agent_gone = on_agent_gone or (lambda session, departure: None)
        self._server_answers = server_answers
        """Whether livekit-server answers within the given time (s); asked before an agent
        that did not answer a ping is given up on."""
        self.agents = AgentTracker(
            liveness=self.liveness,
            on_gone=lambda departure: self._on_agent_gone(self, departure),
            context={"call_id": call.call_id},
        )
        """The call's agent: who it is, whether it lives."""
        self.liveness_log: list[tuple[float, str]] = []
        """(monotonic s, what): ``agent_lost:<why>``, ``agent_dispatched:<try>``,
        ``dispatch_failed``, ``apology_started``, ``apology_done``, in order."""

    async def _send_control(self, command: ControlCommand) -> None:
        if self._room is None:
            raise SessionClosedError(f"session {self.id!r} is not observing its room")
        payload = encode_control(replace(command, participant=self.identity))
        await self._room.local_participant.publish_data(payload, reliable=True, topic=CONTROL_TOPIC)

    async def _hangup(self) -> None:
        await self._hangup_call(self)

    # ------------------------------------------------------------------ call control

    def _capabilities(self) -> Capabilities:
        if self._livekit_api is None:
            return Capabilities.of(
                SIP_ROUTE, {CallAction.TRANSFER: "this session was given no LiveKit API"}
            )
        return Capabilities.of(SIP_ROUTE)

    async def _warm_transfer(self, target: TransferTarget, summary: str) -> bool:
        """The agent does it (it briefs with its own voice): the ``warm_transfer``
        command; its factory must build ``call_control_tools(ctx,
        warm_transfer=WarmTransferOptions(...))``, else UnsupportedActionError with that
        reason (:mod:`omnivoice_rtc.calls.warm_transfer_status`)."""
        room = self._room
        if room is None:
            raise SessionClosedError(f"session {self.id!r} is not observing its room")
        command = ControlCommand(type="warm_transfer", text=summary, to=target.value)
        logger.info("warm transfer asked of the agent", extra={"call_id": self.id})
        return await await_warm_transfer(
            room, caller=self.identity, send=lambda: self._send_control(command)
        )

    async def _transfer(self, target: TransferTarget) -> None:
        assert self._livekit_api is not None  # reason: capabilities checked it
        self.end_reason = self.end_reason or TRANSFERRED
        try:
            await transfer_sip(
                self._livekit_api(), room=self.room_name, identity=self.identity, target=target
            )
        except BaseException:
            if not self.closed and self.end_reason == TRANSFERRED:
                self.end_reason = ""
            raise

    async def _send_dtmf(self, digits: str) -> None:
        if self._room is None:
            raise SessionClosedError(f"session {self.id!r} is not observing its room")
        await send_sip_digits(self._room.local_participant, digits)

    # ------------------------------------------------------------------ observer

    @property
    def observer_identity(self) -> str:
        """Our observer's identity in the call's room (:data:`OBSERVER_IDENTITY_PREFIX`)."""
        return f"{OBSERVER_IDENTITY_PREFIX}{self.identity}"

    async def observe(
        self, *, livekit: LiveKitSettings, agent_join_timeout_s: float = 20.0
    ) -> None:
        """Join the call's room as its observer (receives the agent's events), start
        watching the agent (it has ``agent_join_timeout_s`` s to be there). A call that
        ended while the observer joined is left again at once."""
        token = agent_token(
            credentials=livekit, room=self.room_name, identity=self.observer_identity
        )
        room = rtc.Room()
        room.on("data_received", self._on_data)
        room.on("participant_connected", self._on_participant_joined)
        room.on("participant_disconnected", self._on_participant_left)
        room.on("disconnected", self._on_room_disconnected)
        try:
            await room.connect(livekit.url, token, rtc.RoomOptions(auto_subscribe=False))
        except BaseException:
            await self._leave(room)
            raise
        if self.closed:  # the call ended (and aclose ran) while we joined: leave again
            await self._leave(room)
            return
        self._room = room
        if self.identity not in room.remote_participants:
            # Left (or removed) before we joined; the room is still there until deleted.
            logger.info("sip participant gone before observer joined", extra={"call_id": self.id})
        for participant in room.remote_participants.values():
            self._on_participant_joined(participant)
        self.spawn(self.agents.watch_join(agent_join_timeout_s))
        self.spawn(
            self.agents.watch_alive(
                self._agent_answers, closed=lambda: self.closed, server_answers=self._server_answers
            )
        )

    def expect_fresh_agent(self) -> str:
        """A fresh agent is being dispatched: give up on the current one (returned) and
        give the fresh one ``agent_rejoin_timeout_s`` to join."""
        old = self.agents.retire()
        self.agent_replaced()
        self.spawn(self.agents.watch_join(self.liveness.agent_rejoin_timeout_s))
        return old

    async def _agent_answers(self, identity: str, timeout_s: float) -> bool:
        room = self._room
        if room is None:
            return True  # not observing (closing): nothing to judge by
        return await ping_agent(room.local_participant, identity, timeout_s=timeout_s)

    async def aclose(self) -> None:
        """Leave the room (if joined, bounded by ``teardown_step_s``) and end every
        ``events()`` iterator."""
        room, self._room = self._room, None
        if room is not None:
            await self._leave(room)
        self.mark_closed(self.end_reason or "closed")

    async def _leave(self, room: rtc.Room) -> None:
        """Disconnect the observer from ``room`` (bounded by ``teardown_step_s``)."""
        await teardown_step(
            "observer disconnect",
            room.disconnect(),
            timeout_s=self.liveness.teardown_step_s,
            context={"call_id": self.id},
        )

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        try:
            event, participant, _session_id = decode_event_packet(packet.data)
        except ValueError as exc:
            logger.warning("bad omnivoice.events packet", extra={"error": str(exc)})
            return
        if participant == self.identity:
            if event.type is EventType.SESSION_ENDED and not event.error:
                self.agents.session_ended()
            self.on_event(event)

    def _on_participant_joined(self, participant: rtc.RemoteParticipant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT and not (
            participant.identity.startswith((APOLOGY_IDENTITY_PREFIX, OBSERVER_IDENTITY_PREFIX))
        ):
            if self.agents.claim_surplus(participant.identity):
                self.spawn(self._remove_surplus_agent(participant.identity))
                return
            self.agents.note(participant.identity, dict(participant.attributes))

    async def _remove_surplus_agent(self, identity: str) -> None:
        """Remove a second agent from the call's room (one agent per call)."""
        if self._livekit_api is None:
            return  # no API: the surplus agent stays (logged by claim_surplus)
        await teardown_step(
            "surplus agent removal",
            remove_participant(self._livekit_api(), self.room_name, identity),
            timeout_s=self.liveness.teardown_step_s,
            context={"call_id": self.id},
        )

    @property
    def handed_over(self) -> bool:
        """The agent connected the caller to a human and left (a warm transfer): the
        agent's departure is no loss; the call ends when either of the two hangs up."""
        room = self._room
        caller = room.remote_participants.get(self.identity) if room is not None else None
        return caller is not None and is_handed_over(dict(caller.attributes))

    def _on_participant_left(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.identity:  # BYE, or removed by us (reason set first)
            recorded = participant.attributes.get(END_REASON_ATTRIBUTE, "")  # by call control
            self.mark_closed(self.end_reason or recorded or "hangup")
        elif is_transfer_target(dict(participant.attributes)) and self.handed_over:
            self.end_reason = self.end_reason or WARM_TRANSFERRED  # the human hung up
            self.spawn(self.close())
        elif not self.closed:
            self.agents.participant_left(participant.identity)

    def _on_room_disconnected(self, reason: Any) -> None:
        self.mark_closed(self.end_reason or "room_closed")
