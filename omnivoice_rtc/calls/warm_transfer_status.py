"""Warm transfer asked of the call's agent (operator CLI, ``SIPSession.warm_transfer``):
the ``warm_transfer`` command on ``omnivoice.control`` and the agent's answer.

The requester publishes ``{"type": "warm_transfer", "participant": <caller>, "to": <human>,
"text": <summary>}``; the agent (:mod:`omnivoice_rtc.agent.warm_transfer_command`) answers
in its own participant attribute :data:`WARM_TRANSFER_STATUS_ATTRIBUTE`, one
:class:`WarmTransferStatus` per request: ``"<seq> dialling"`` first, then ``"<seq>
connected"``, ``"<seq> unanswered"``, ``"<seq> failed <why>"`` or ``"<seq> refused <why>"``
(``seq`` grows by one per request, so an old answer is never taken for a new one). A
connected caller also carries ``omnivoice.end_reason = warm_transferred``, which counts
as ``connected`` even when the agent left before its last attribute update arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from livekit import rtc

from omnivoice_rtc._errors import ProviderError, SessionClosedError, UnsupportedActionError
from omnivoice_rtc.calls.control import END_REASON_ATTRIBUTE, SIP_ROUTE, CallAction
from omnivoice_rtc.calls.control_wire import OPERATOR_IDENTITY_PREFIX
from omnivoice_rtc.calls.warm_transfer import WARM_TRANSFERRED

__all__ = [
    "DEFAULT_WARM_TRANSFER_TIMEOUT_S",
    "WARM_TRANSFER_STATUS_ATTRIBUTE",
    "WarmTransferState",
    "WarmTransferStatus",
    "await_warm_transfer",
]

WARM_TRANSFER_STATUS_ATTRIBUTE: Final = "omnivoice.warm_transfer"
"""The agent participant's attribute that answers ``warm_transfer`` commands."""

DEFAULT_WARM_TRANSFER_TIMEOUT_S: Final = 120.0
"""How long a requester waits for the outcome (s): ringing (30 s by default), the
briefing and the connect."""

WarmTransferState = Literal["dialling", "connected", "unanswered", "failed", "refused"]
_STATES: Final = get_args(WarmTransferState)
_FINAL: Final = frozenset({"connected", "unanswered", "failed", "refused"})


@dataclass(frozen=True, slots=True)
class WarmTransferStatus:
    """One answer of the agent: request number ``seq`` (≥ 1), its ``state`` and, for
    ``failed``/``refused``, ``detail`` (why)."""

    seq: int
    state: WarmTransferState
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.state in _FINAL

    def encode(self) -> str:
        """The attribute value: ``"<seq> <state>[ <detail>]"``."""
        if self.seq < 1:
            raise ValueError(f"warm transfer status: seq must be >= 1, got {self.seq}")
        return f"{self.seq} {self.state} {self.detail}".rstrip()

    @classmethod
    def parse(cls, value: str) -> WarmTransferStatus:
        """Parse an attribute value (ValueError naming what is wrong)."""
        seq_text, _, rest = value.partition(" ")
        state, _, detail = rest.partition(" ")
        if not seq_text.isdigit() or int(seq_text) < 1:
            raise ValueError(f"warm transfer status: bad sequence number in {value!r}")
        if state not in _STATES:
            raise ValueError(
                f"warm transfer status: state must be one of {', '.join(_STATES)}; got {state!r}"
            )
        return cls(seq=int(seq_text), state=state, detail=detail)  # type: ignore[arg-type]  # reason: state checked against the Literal's values above

    @classmethod
    def latest_seq(cls, attributes: Mapping[str, str]) -> int:
        """The sequence number in ``attributes`` (0 when there is none or it is bad)."""
        try:
            return cls.parse(attributes[WARM_TRANSFER_STATUS_ATTRIBUTE]).seq
        except (KeyError, ValueError):
            return 0


def _agents(room: rtc.Room) -> list[rtc.RemoteParticipant]:
    return [
        p
        for p in room.remote_participants.values()
        if p.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        and not p.identity.startswith(OPERATOR_IDENTITY_PREFIX)
    ]


async def await_warm_transfer(
    room: rtc.Room,
    *,
    caller: str,
    send: Callable[[], Awaitable[None]],
    timeout_s: float = DEFAULT_WARM_TRANSFER_TIMEOUT_S,
) -> bool:
    """Send the command (``send``) and wait for the agent's outcome in ``room``: True
    connected, False not answered (the agent is back with the caller).

    UnsupportedActionError when the agent refused (its factory gave no warm-transfer
    options); ProviderError when it failed or gave no outcome within ``timeout_s`` (s);
    SessionClosedError when the caller left first."""
    before = {p.identity: WarmTransferStatus.latest_seq(p.attributes) for p in _agents(room)}
    outcome: asyncio.Future[WarmTransferStatus | None] = asyncio.get_running_loop().create_future()

    def check(participant: rtc.Participant) -> None:
        if outcome.done():
            return
        if participant.identity == caller:
            if participant.attributes.get(END_REASON_ATTRIBUTE) == WARM_TRANSFERRED:
                outcome.set_result(WarmTransferStatus(seq=1, state="connected"))
            return
        value = participant.attributes.get(WARM_TRANSFER_STATUS_ATTRIBUTE)
        if value is None:
            return
        with contextlib.suppress(ValueError):
            status = WarmTransferStatus.parse(value)
            if status.seq > before.get(participant.identity, 0) and status.final:
                outcome.set_result(status)

    def on_attributes(_changed: dict[str, str], participant: rtc.Participant) -> None:
        check(participant)

    def on_left(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == caller and not outcome.done():
            outcome.set_result(None)

    room.on("participant_attributes_changed", on_attributes)
    room.on("participant_disconnected", on_left)
    try:
        await send()
        async with asyncio.timeout(timeout_s):
            status = await outcome
    except TimeoutError:
        raise ProviderError(
            f"{SIP_ROUTE}: the agent gave no warm-transfer outcome within {timeout_s:g} s"
        ) from None
    finally:
        room.off("participant_attributes_changed", on_attributes)
        room.off("participant_disconnected", on_left)
    if status is None:
        raise SessionClosedError(f"call participant {caller!r} left")
    if status.state == "refused":
        raise UnsupportedActionError(
            f"{SIP_ROUTE}: {CallAction.WARM_TRANSFER.value} is not supported by the call's "
            f"agent: {status.detail}",
            action=CallAction.WARM_TRANSFER.value,
            route=SIP_ROUTE,
        )
    if status.state == "failed":
        raise ProviderError(f"{SIP_ROUTE}: warm transfer failed: {status.detail}")
    return status.state == "connected"
