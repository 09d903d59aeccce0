"""From livekit to omnivoice at a session's start: a participant as a
:class:`~omnivoice_rtc.types.ParticipantInfo`, an interruption mode as livekit-agents'
turn-handling options."""

from __future__ import annotations

from typing import Any

from livekit import rtc

from omnivoice_rtc.agent.barge_in import PAUSE_AFTER_S, RESUME_AFTER_S
from omnivoice_rtc.types import InterruptionMode, ParticipantInfo

__all__ = ["interruption_settings", "participant_info"]


def interruption_settings(mode: InterruptionMode) -> dict[str, Any]:
    """livekit-agents ``turn_handling["interruption"]`` for an omnivoice InterruptionMode
    (an unlisted one gets ``immediate``'s)."""
    if mode is InterruptionMode.DISABLED:
        return {"enabled": False}
    if mode is InterruptionMode.AFTER_SENTENCE:
        return {"enabled": True, "mode": "vad", "min_words": 2, "min_duration": 1.0}
    return {  # see agent.barge_in: pause at once, end for good on a real barge-in
        "enabled": True,
        "mode": "vad",
        "min_duration": PAUSE_AFTER_S,
        "resume_false_interruption": True,
        "false_interruption_timeout": RESUME_AFTER_S,
    }


def participant_info(p: rtc.RemoteParticipant, room_name: str) -> ParticipantInfo:
    """``p`` as a ParticipantInfo (kind: standard, sip, agent, ingress or egress)."""
    kind = {
        rtc.ParticipantKind.PARTICIPANT_KIND_SIP: "sip",
        rtc.ParticipantKind.PARTICIPANT_KIND_AGENT: "agent",
        rtc.ParticipantKind.PARTICIPANT_KIND_INGRESS: "ingress",
        rtc.ParticipantKind.PARTICIPANT_KIND_EGRESS: "egress",
    }.get(p.kind, "standard")

    def text(value: object) -> str:  # console mode's mock participant has non-str fields
        return value if isinstance(value, str) else ""

    attributes = p.attributes if isinstance(p.attributes, dict) else {}
    return ParticipantInfo(
        identity=text(p.identity),
        display_name=text(p.name),
        room_name=room_name,
        metadata=text(p.metadata),
        attributes={str(k): str(v) for k, v in attributes.items()},
        kind=kind,
    )
