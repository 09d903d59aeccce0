"""The facts writers hand the ledger: small values, no I/O.

A writer records what it knows, when it knows it; the ledger merges facts per call
(:mod:`omnivoice_rtc.ledger.store`): empty fields are filled, the earliest start and end
win, and the end reason of the writer that knows best wins (:data:`END_SOURCE_RANK`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from omnivoice_rtc.ledger.keys import CallParties, call_key

__all__ = ["END_SOURCE_RANK", "CallOpened", "TurnFact"]

END_SOURCE_RANK: Final = {
    "shim": 4,
    "sip_gateway": 4,
    "agent": 3,
    "livekit_webhook": 2,
    "finalizer": 1,
}
"""Whose end reason wins when several writers saw the call end: the route that carried
the call (it knows a carrier ``stop`` from our own hang-up), then the agent, then
LiveKit's webhooks, then the ledger's own sweep."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOpened:
    """A writer saw a call: which room and participant, and what it knows of it."""

    room_name: str
    participant_identity: str
    parties: CallParties
    source: str
    created_at: datetime
    room_sid: str = ""
    session_id: str = ""
    agent_identity: str = ""
    pipeline: str = ""

    @property
    def call_id(self) -> str:
        return call_key(self.room_name, self.participant_identity)


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnFact:
    """One turn of the transcript (times UTC, durations and latencies ms)."""

    role: str
    text: str
    started_at: datetime
    duration_ms: int = 0
    stt_ms: int | None = None
    llm_ms: int | None = None
    tts_ms: int | None = None
    total_ms: int | None = None
    interrupted: bool = False
    tool_calls: tuple[dict[str, Any], ...] = field(default=())
