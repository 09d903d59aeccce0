"""The ``warm_transfer`` command on ``omnivoice.control``, inside the agent's job: a warm
transfer asked by the operator CLI or a ``SIPSession`` rather than by the model.

The call's tool set (:class:`~omnivoice_rtc.agent.call_tools.CallControlTools`, built
with ``warm_transfer=WarmTransferOptions(...)``) registers itself for its call with
:func:`register_warm_transfer`; :func:`apply_warm_transfer_command` finds it and runs the
same :class:`~omnivoice_rtc.agent.warm_transfer.WarmTransfer` as the
``warm_transfer_call`` tool. Each step is answered in the agent's attribute
(:mod:`omnivoice_rtc.calls.warm_transfer_status`): ``dialling``, then ``connected``,
``unanswered``, ``failed <why>``, or ``refused <why>`` when the call has no such tool set.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Final, Protocol

from livekit import rtc
from livekit.agents import AgentSession

from omnivoice_rtc._errors import OmniVoiceError
from omnivoice_rtc.calls.warm_transfer_status import (
    WARM_TRANSFER_STATUS_ATTRIBUTE,
    WarmTransferState,
    WarmTransferStatus,
)
from omnivoice_rtc.logs import pii

__all__ = [
    "NOT_CONFIGURED_REASON",
    "apply_warm_transfer_command",
    "refuse_warm_transfer_command",
    "register_warm_transfer",
]

logger = logging.getLogger(__name__)

NOT_CONFIGURED_REASON: Final = (
    "the agent's factory gave no warm-transfer options "
    "(call_control_tools(ctx, warm_transfer=WarmTransferOptions(outbound_trunk=...)))"
)


class WarmTransferRunner(Protocol):
    """What runs a warm transfer for one call (the call's tool set)."""

    async def run_warm_transfer(self, session: AgentSession[Any], to: str, summary: str) -> bool:
        """True connected, False not answered (the agent is back with the caller)."""
        ...


_RUNNERS: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()


def register_warm_transfer(room: str, caller: str, runner: WarmTransferRunner) -> None:
    """``runner`` serves ``warm_transfer`` commands for caller ``caller`` in ``room`` (held
    weakly: it goes with the call's tool set)."""
    _RUNNERS[(room, caller)] = runner


async def _answer(room: rtc.Room, status: WarmTransferStatus) -> None:
    try:
        await room.local_participant.set_attributes(
            {WARM_TRANSFER_STATUS_ATTRIBUTE: status.encode()}
        )
    except RuntimeError as exc:  # the room is gone (a connected transfer)
        logger.info("warm transfer status not published", extra={"error": str(exc)})


async def refuse_warm_transfer_command(room: rtc.Room, reason: str) -> None:
    """Answer a ``warm_transfer`` command the control policy refused (``reason``)."""
    seq = WarmTransferStatus.latest_seq(room.local_participant.attributes) + 1
    await _answer(room, WarmTransferStatus(seq=seq, state="refused", detail=reason))


async def apply_warm_transfer_command(
    session: AgentSession[Any] | None, *, room: rtc.Room, caller: str, to: str, summary: str
) -> WarmTransferState:
    """Run the warm transfer of ``caller`` to ``to`` with ``summary``; every step is
    published in the agent's status attribute. Returns the final state."""
    seq = WarmTransferStatus.latest_seq(room.local_participant.attributes) + 1
    runner = _RUNNERS.get((room.name, caller))
    if session is None or runner is None:
        why = "no session for the caller" if session is None else NOT_CONFIGURED_REASON
        logger.info("warm transfer command refused", extra={"reason": why})
        await _answer(room, WarmTransferStatus(seq=seq, state="refused", detail=why))
        return "refused"
    await _answer(room, WarmTransferStatus(seq=seq, state="dialling"))
    logger.info("warm transfer asked on the control topic", extra=pii(to=to))
    state: WarmTransferState
    detail = ""
    try:
        state = (
            "connected" if await runner.run_warm_transfer(session, to, summary) else "unanswered"
        )
    except (OmniVoiceError, ValueError) as exc:
        state, detail = "failed", str(exc)
        logger.warning("warm transfer failed", extra={"error": detail})
    await _answer(room, WarmTransferStatus(seq=seq, state=state, detail=detail))
    return state
