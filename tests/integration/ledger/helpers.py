"""Facts the ledger tests write, as the real writers would."""

from __future__ import annotations

from datetime import datetime, timedelta

from omnivoice_rtc.ledger.facts import CallOpened, TurnFact
from omnivoice_rtc.ledger.keys import CallParties, classify
from omnivoice_rtc.ledger.store import utc_now

__all__ = ["browser_call", "carrier_call", "turn"]


def browser_call(
    room: str = "web-abc",
    identity: str = "visitor-1",
    *,
    source: str = "agent",
    at: datetime | None = None,
) -> CallOpened:
    return CallOpened(
        room_name=room,
        participant_identity=identity,
        parties=CallParties(route="browser"),
        source=source,
        created_at=at or utc_now(),
    )


def carrier_call(
    call_id: str = "CA1", *, source: str = "shim", at: datetime | None = None
) -> CallOpened:
    room, identity = f"call-twilio-{call_id}", f"caller-twilio-{call_id}"
    attributes = {
        "carrier": "twilio",
        "call_id": call_id,
        "from": "+15550001",
        "to": "+15550002",
        "direction": "inbound",
    }
    return CallOpened(
        room_name=room,
        participant_identity=identity,
        parties=classify(room, attributes, sip_kind=False),
        source=source,
        created_at=at or utc_now(),
    )


def turn(role: str, text: str, *, total_ms: int | None = None, offset_s: float = 0.0) -> TurnFact:
    return TurnFact(
        role=role,
        text=text,
        started_at=utc_now() + timedelta(seconds=offset_s),
        duration_ms=900,
        stt_ms=120 if role == "user" else None,
        llm_ms=300 if role == "agent" else None,
        tts_ms=150 if role == "agent" else None,
        total_ms=total_ms,
    )
