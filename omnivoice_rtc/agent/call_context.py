"""CallContext: what your agent factory knows about the call it serves, the same on every
route.

The worker builds one :class:`CallContext` per served participant from what the room
says about that participant (its kind, attributes and metadata), the room's name and
the job's dispatch metadata (:func:`call_context_for`). It is the one place that reads
caller ID:

=========  ==================================  ============================================
route      who                                 caller / callee / carrier_call_id / parameters
=========  ==================================  ============================================
``webrtc`` a browser or app with a room token  "" / "" / "" / the token's metadata (a JSON
                                               object's members; other text under
                                               ``metadata``)
``sip``    a livekit-sip participant           ``sip.phoneNumber`` and ``sip.trunkPhoneNumber``
                                               (swapped on outbound calls, which have no
                                               ``sip.ruleID``) / ``sip.twilio.callSid``, else
                                               ``sip.callIDFull``, else ``sip.callID`` / the
                                               SIP headers livekit-sip mapped to ``sip.h.*``
                                               (``x-customer-id``: the trunk's
                                               ``include_headers``) and ``omnivoice.param.*``
a carrier  the shim's caller in a ``call-``    ``from`` / ``to`` / ``call_id`` /
name       room (``twilio``, ``telnyx``, ...,  ``omnivoice.param.*`` (the stream's custom
           every name in carriers/registry)    parameters: Twilio/Telnyx ``<Parameter>``,
                                               Vonage headers, Plivo extraHeaders)
=========  ==================================  ============================================

Numbers are given in E.164 (``+15550100``) when the route gives a number
(:func:`e164`); anything else (a SIP user name, ``client:alice``) is kept as sent.

Trust: the route comes from what a browser cannot forge. A carrier route needs the
shim's reserved room (``call-<carrier>-...``, never minted for browsers) and a registered
carrier; the SIP route needs a participant of kind SIP. Everything else is ``webrtc``, and
a browser's attributes are never read for caller ID (browsers may set their own).

Resume: when the job's dispatch metadata is ``{"omnivoice": {"resume": {"transcript":
[Turn, ...]}}}`` (the Go ``Turn`` JSON), the call continues a conversation an earlier
agent had; :attr:`CallContext.resume_transcript` holds those turns, the session starts
with them as its chat history and does not greet again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.livekit.names import CALL_PARAMETER_ATTRIBUTE_PREFIX, CALL_ROOM_PREFIX
from omnivoice_rtc.types import ParticipantInfo, Turn

__all__ = [
    "SIP_HEADER_ATTRIBUTE_PREFIX",
    "WEBRTC_ROUTE",
    "CallContext",
    "Direction",
    "call_context_for",
    "e164",
    "resume_transcript_from",
]

logger = logging.getLogger(__name__)

WEBRTC_ROUTE: Final = "webrtc"
SIP_ROUTE: Final = "sip"
SIP_HEADER_ATTRIBUTE_PREFIX: Final = "sip.h."
"""livekit-sip's attributes for the SIP headers a trunk asks to include (lower-case names)."""

Direction = Literal["inbound", "outbound"]

_SEPARATORS = re.compile(r"[\s\-().]")
_DIGITS = re.compile(r"[0-9]{1,15}")


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContext:
    """The call one agent session serves (see the module docstring for each route).

    ``route``: ``webrtc``, ``sip`` or a carrier name; ``direction``: ``inbound`` or
    ``outbound``; ``caller`` / ``callee``: who placed the call and who it was placed to
    (E.164 where the route gives numbers, "" when it gives none); ``carrier_call_id``: the
    carrier's id of the call (Twilio CallSid, Telnyx call_control_id, ...; "" for
    browsers); ``room`` and ``participant_identity``: where the caller is;
    ``parameters``: per-call values the caller's route carried; ``resume_transcript``: the
    earlier turns of a conversation this call continues (empty for a new call).
    """

    route: str
    direction: Direction = "inbound"
    caller: str = ""
    callee: str = ""
    carrier_call_id: str = ""
    room: str = ""
    participant_identity: str = ""
    parameters: Mapping[str, str] = field(default_factory=_empty)
    resume_transcript: tuple[Turn, ...] = ()

    def __post_init__(self) -> None:
        if self.direction not in ("inbound", "outbound"):
            raise ValueError(
                f"CallContext.direction: must be inbound or outbound, got {self.direction!r}"
            )
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))
        object.__setattr__(self, "resume_transcript", tuple(self.resume_transcript))

    @property
    def is_phone_call(self) -> bool:
        """True for SIP and carrier routes."""
        return self.route != WEBRTC_ROUTE

    @property
    def resumed(self) -> bool:
        """True when this call continues an earlier agent's conversation."""
        return bool(self.resume_transcript)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (turns in the Go ``Turn`` JSON)."""
        return {
            "route": self.route,
            "direction": self.direction,
            "caller": self.caller,
            "callee": self.callee,
            "carrier_call_id": self.carrier_call_id,
            "room": self.room,
            "participant_identity": self.participant_identity,
            "parameters": dict(self.parameters),
            "resume_transcript": [t.to_dict() for t in self.resume_transcript],
        }


def e164(number: str) -> str:
    """``number`` in E.164 when it is one: separators dropped, ``00`` read as ``+``,
    11 to 15 bare digits given a ``+``; a ``sip:``/``tel:`` URI's user part is read. Anything
    else (a SIP user name, a short national number, ``client:alice``) is returned as is."""
    text = number.strip()
    lowered = text.lower()
    for scheme in ("sip:", "sips:", "tel:"):
        if lowered.startswith(scheme):
            text = text[len(scheme) :].split("@", 1)[0].split(";", 1)[0]
            break
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("+") and _DIGITS.fullmatch(compact[1:]) and compact[1] != "0":
        return compact
    if compact.startswith("00") and _DIGITS.fullmatch(compact[2:]) and len(compact) > 4:
        return "+" + compact[2:]
    if _DIGITS.fullmatch(compact) and 11 <= len(compact) <= 15 and compact[0] != "0":
        return "+" + compact
    return number.strip()


def _prefixed(attributes: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        k[len(prefix) :]: v
        for k, v in attributes.items()
        if k.startswith(prefix) and k[len(prefix) :]
    }


def _metadata_parameters(metadata: str) -> dict[str, str]:
    text = metadata.strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"metadata": text}
    if not isinstance(value, dict):
        return {"metadata": text}
    return {
        str(k): v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        for k, v in value.items()
    }


def resume_transcript_from(job_metadata: str) -> tuple[Turn, ...]:
    """The turns of ``{"omnivoice": {"resume": {"transcript": [...]}}}`` in a job's
    dispatch metadata (empty when there are none). Malformed turns are skipped with a
    warning: a call is never refused for them."""
    text = job_metadata.strip()
    if not text:
        return ()
    try:
        data = json.loads(text)
    except ValueError:
        return ()  # metadata that is not ours (any dispatcher may set some)
    ours = data.get("omnivoice") if isinstance(data, dict) else None
    resume = ours.get("resume") if isinstance(ours, dict) else None
    raw = resume.get("transcript", []) if isinstance(resume, dict) else []
    if not isinstance(raw, list):
        logger.warning("resume transcript ignored: not a list")
        return ()
    turns: list[Turn] = []
    for item in raw:
        try:
            turn = Turn.from_dict(item)
        except (TypeError, ValueError) as exc:
            logger.warning("resume transcript turn skipped", extra={"reason": str(exc)})
            continue
        if turn.role in ("user", "agent") and turn.text:
            turns.append(turn)
    return tuple(turns)


def _carrier_route(participant: ParticipantInfo) -> str:
    if not participant.room_name.startswith(CALL_ROOM_PREFIX):
        return ""
    carrier = participant.attributes.get("carrier", "")
    return carrier if carrier in carrier_names() else ""


def call_context_for(participant: ParticipantInfo, *, job_metadata: str = "") -> CallContext:
    """The :class:`CallContext` of ``participant`` (its ``room_name`` is the room)."""
    attrs = participant.attributes
    resume = resume_transcript_from(job_metadata)
    common: dict[str, Any] = {
        "room": participant.room_name,
        "participant_identity": participant.identity,
        "resume_transcript": resume,
    }
    carrier = _carrier_route(participant)
    if carrier:
        direction = attrs.get("direction", "inbound")
        return CallContext(
            route=carrier,
            direction="outbound" if direction == "outbound" else "inbound",
            caller=e164(attrs.get("from", "")),
            callee=e164(attrs.get("to", "")),
            carrier_call_id=attrs.get("call_id", ""),
            parameters=_prefixed(attrs, CALL_PARAMETER_ATTRIBUTE_PREFIX),
            **common,
        )
    if participant.kind == "sip":
        remote = e164(attrs.get("sip.phoneNumber", ""))
        ours = e164(attrs.get("sip.trunkPhoneNumber", ""))
        inbound = bool(attrs.get("sip.ruleID"))
        call_id = (
            attrs.get("sip.twilio.callSid")
            or attrs.get("sip.callIDFull")
            or attrs.get("sip.callID", "")
        )
        return CallContext(
            route=SIP_ROUTE,
            direction="inbound" if inbound else "outbound",
            caller=remote if inbound else ours,
            callee=ours if inbound else remote,
            carrier_call_id=call_id,
            parameters={
                **_prefixed(attrs, SIP_HEADER_ATTRIBUTE_PREFIX),
                **_prefixed(attrs, CALL_PARAMETER_ATTRIBUTE_PREFIX),
            },
            **common,
        )
    return CallContext(
        route=WEBRTC_ROUTE, parameters=_metadata_parameters(participant.metadata), **common
    )
