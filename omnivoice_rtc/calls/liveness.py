"""Agent liveness of a phone call, whichever route it took (shim or SIP).

A call's agent can vanish three ways: it leaves the room without ending its session, it
never joins, or its process dies and its participant lingers (livekit-server keeps a
participant whose process was killed for 15-25 s, waiting for it to resume: measured).
The last one is only seen by asking: :func:`ping_agent` sends the agent an RPC it does
not implement; a live agent's SDK acknowledges it at once (``UNSUPPORTED_METHOD``), a dead
one does not (``CONNECTION_TIMEOUT`` after ``timeout_s``).

What then is :class:`AgentRecovery` (no I/O): a fresh agent is dispatched into the same
room with the transcript so far (:func:`resume_metadata`: the job reads it from the
dispatch metadata under ``omnivoice.resume``) until ``agent_tries`` fresh agents were
sent; after that the caller hears a short apology (:mod:`.apology`) and the call is
hung up. A call whose agent ended its session itself (``session_ended`` seen) is simply
over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from livekit import rtc

from omnivoice_rtc.types import Turn

__all__ = [
    "PING_METHOD",
    "RESUME_METADATA_MAX_BYTES",
    "AgentRecovery",
    "Apologize",
    "RecoveryDecision",
    "Redispatch",
    "ping_agent",
    "resume_metadata",
]

logger = logging.getLogger(__name__)

PING_METHOD: Final = "omnivoice.ping"
"""The RPC method a call's agent is pinged with (no agent implements it: its SDK answers)."""

RESUME_METADATA_MAX_BYTES: Final = 60_000
"""Largest dispatch metadata a resume carries (bytes of UTF-8 JSON); the oldest turns go
first when the transcript is longer."""

_ALIVE_CODES: Final = frozenset(
    {
        rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD,  # its SDK answered: the process runs
        rtc.RpcError.ErrorCode.APPLICATION_ERROR,  # a handler ran and failed: alive
        rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT,  # acknowledged, slow to answer: alive
        rtc.RpcError.ErrorCode.RESPONSE_PAYLOAD_TOO_LARGE,
        rtc.RpcError.ErrorCode.UNSUPPORTED_VERSION,
    }
)
"""RPC errors that prove the agent's process received the ping."""


def resume_metadata(
    transcript: Sequence[Turn], *, max_bytes: int = RESUME_METADATA_MAX_BYTES
) -> str:
    """The dispatch metadata of a fresh agent: ``{"omnivoice": {"resume": {"transcript":
    [Turn.to_dict(), ...]}}}`` with the latest turns that fit in ``max_bytes`` (bytes)."""
    turns = [turn.to_dict() for turn in transcript]
    while True:
        text = json.dumps({"omnivoice": {"resume": {"transcript": turns}}}, separators=(",", ":"))
        if len(text.encode()) <= max_bytes or not turns:
            return text
        del turns[0]


async def ping_agent(
    participant: rtc.LocalParticipant, agent_identity: str, *, timeout_s: float
) -> bool:
    """True when the agent ``agent_identity`` acknowledged an RPC within ``timeout_s`` (s);
    False when it did not (its process is gone or cut off) or is no longer in the room."""
    try:
        await participant.perform_rpc(
            destination_identity=agent_identity,
            method=PING_METHOD,
            payload="",
            response_timeout=timeout_s,
            max_round_trip_latency=timeout_s,
        )
    except rtc.RpcError as exc:
        return exc.code in _ALIVE_CODES
    return True


@dataclass(frozen=True, slots=True)
class Redispatch:
    """Dispatch fresh agent number ``attempt`` (1-based) into the call's room."""

    attempt: int
    reason: str


@dataclass(frozen=True, slots=True)
class Apologize:
    """No more tries: play the apology to the caller, then hang up."""

    reason: str


RecoveryDecision = Redispatch | Apologize


class AgentRecovery:
    """What to do each time a call loses its agent (see the module docstring).

    ``tries`` fresh agents in all per call (0: apologize at the first loss). Once it said
    :class:`Apologize` it answers None: the call is ending.
    """

    __slots__ = ("_giving_up", "tries", "used")

    def __init__(self, *, tries: int) -> None:
        if tries < 0:
            raise ValueError(f"AgentRecovery.tries: must be >= 0, got {tries}")
        self.tries = tries
        self.used = 0
        """Fresh agents dispatched so far."""
        self._giving_up = False

    @property
    def giving_up(self) -> bool:
        """True once :class:`Apologize` was decided."""
        return self._giving_up

    def on_agent_lost(self, reason: str) -> RecoveryDecision | None:
        """The agent left without ending its session, died, or never joined (``reason``)."""
        if self._giving_up:
            return None
        if self.used < self.tries:
            self.used += 1
            return Redispatch(attempt=self.used, reason=reason)
        self._giving_up = True
        return Apologize(reason=reason)
