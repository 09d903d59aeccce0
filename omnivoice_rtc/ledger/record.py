"""What the ledger holds about one call, as read back: :class:`CallRecord` and its JSON.

``CallRecord.to_dict()`` is the record every reader shows (``omnivoice-rtc calls show
--json``, ``/api/calls/<id>``, the ``call.ended`` webhook). The caller's and callee's
numbers are personal data and sit under ``"pii"``; ``to_dict(pii=False)`` leaves them
out (the transcript too, with ``transcript=False``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["CallEventRecord", "CallRecord", "TurnRecord", "iso"]


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with milliseconds (``2026-12-04T13:00:00.123+00:00``), or None."""
    return None if value is None else value.isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnRecord:
    """One turn: who spoke, what, when (``started_at``), for how long (``duration_ms``),
    and the latencies (ms) that led to it: ``stt_ms`` (end of the user's speech →
    transcript), ``llm_ms`` (time to first token), ``tts_ms`` (time to first audio),
    ``total_ms`` (end of the user's speech → the agent starts answering)."""

    seq: int
    role: str
    text: str
    started_at: datetime
    duration_ms: int = 0
    stt_ms: int | None = None
    llm_ms: int | None = None
    tts_ms: int | None = None
    total_ms: int | None = None
    interrupted: bool = False
    tool_calls: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "role": self.role,
            "text": self.text,
            "at": iso(self.started_at),
            "duration_ms": self.duration_ms,
            "latency_ms": {
                "stt": self.stt_ms,
                "llm": self.llm_ms,
                "tts": self.tts_ms,
                "total": self.total_ms,
            },
            "interrupted": self.interrupted,
            "tool_calls": list(self.tool_calls),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEventRecord:
    """Something else that happened in the call (``dtmf``, ``tool_call``, ``error``, …)."""

    at: datetime
    type: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": iso(self.at), "type": self.type, "source": self.source, "data": self.data}


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One call as the ledger holds it (see the module docstring)."""

    id: str
    room_name: str
    participant_identity: str
    room_sid: str = ""
    session_id: str = ""
    route: str = ""
    direction: str = "inbound"
    carrier: str = ""
    carrier_call_id: str = ""
    sip_call_id: str = ""
    caller: str = ""
    callee: str = ""
    agent_identity: str = ""
    pipeline: str = ""
    status: str = "active"
    created_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""
    ended_by: str = ""
    agent_reported: bool = False
    finalized_at: datetime | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)
    turns: tuple[TurnRecord, ...] = ()
    events: tuple[CallEventRecord, ...] = ()

    @property
    def duration_s(self) -> float | None:
        """From created to ended (s); None while the call is on."""
        if self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.created_at).total_seconds())

    def to_dict(self, *, pii: bool = True, transcript: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "route": self.route,
            "direction": self.direction,
            "carrier": self.carrier,
            "status": self.status,
            "ids": {
                "room": self.room_name,
                "room_sid": self.room_sid,
                "participant": self.participant_identity,
                "session": self.session_id,
                "carrier_call": self.carrier_call_id,
                "sip_call": self.sip_call_id,
            },
            "created_at": iso(self.created_at),
            "answered_at": iso(self.answered_at),
            "ended_at": iso(self.ended_at),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "end_reason": self.end_reason,
            "ended_by": self.ended_by,
            "agent": {
                "identity": self.agent_identity,
                "pipeline": self.pipeline,
                "reported": self.agent_reported,
            },
            "metrics": self.metrics,
            "counters": self.counters,
            "refs": self.refs,
        }
        if pii:
            body["pii"] = {"caller": self.caller, "callee": self.callee}
        if transcript:
            body["transcript"] = [turn.to_dict() for turn in self.turns]
            body["events"] = [event.to_dict() for event in self.events]
        return body
