"""The three data topics the agent and the processes that observe a call share.

``omnivoice.events`` (agent -> room): Relay session events to the room as JSON data packets on topic ``omnivoice.events``.

Out-of-process observers (the phone shim, the browser page, tests) subscribe to the
room's data and see every session the agent runs there.

Wire format (one reliable data packet per event, sent to every participant)::

    {"type": "user_transcript",                  # EventType value
     "timestamp": "2026-11-24T10:00:00.123Z",    # RFC 3339, UTC
     "data": {...},                               # optional, per type (docs/sessions.md)
     "error": "...",                              # optional, error message
     "participant": "web-3f2a",                   # identity of the session's user
     "session_id": "RM_x/web-3f2a"}               # LiveKitSession.id

``data`` is the event's typed payload as JSON (:mod:`omnivoice_rtc.types.event_data`);
:func:`decode_event_packet` reads it back typed. ``session_ended`` data
(``SessionEnded``) is ``{"reason": str, "metrics": Metrics.to_dict(), "transcript":
[Turn.to_dict(), ...]}``; when the packet would exceed :data:`MAX_PAYLOAD_BYTES` the
oldest turns are dropped and ``"transcript_truncated": true`` is added.

``omnivoice.control`` (room -> agent): Commands to the agent over the room: data topic ``omnivoice.control``.

Processes that do not hold the session object (the carrier shims, SIP call control,
a browser) steer it by publishing one reliable data packet per command::

    {"type": "say", "text": "What is my balance?", "participant": "caller-1"}
    {"type": "interrupt", "participant": "caller-1"}
    {"type": "close", "participant": "caller-1"}

* ``say``: a user turn from text, bypassing STT (``LiveKitSession.send_text``); the agent
  answers it by voice. ``text`` is required and non-empty.
* ``interrupt``: stop the agent's current speech (``LiveKitSession.interrupt``).
* ``close``: end that session (``LiveKitSession.close``).
* ``speak``: the agent says ``text`` verbatim (not a user turn), e.g. the line before a
  transfer (``CallSession.transfer``); ``text`` is required and non-empty.
* ``hold`` / ``resume``: put the session on hold (the caller hears hold audio, the agent
  stops listening and speaking) and back (:mod:`omnivoice_rtc.agent.call_tools`).

``participant`` (optional) is the identity of the session's user. When it is absent the
command is for the sender's own session; when the sender has none and the room has
exactly one session, for that one. Malformed packets are logged and ignored.

``omnivoice.latency`` (caller's side -> agent): mouth-to-ear latency of one turn, measured
where the caller is: the browser page, or the carrier shim for a carrier media stream::

    {"mouth_to_ear_ms": 640, "measured_by": "browser"}

The end of the caller's speech -> the first agent audio the caller hears, in ms on the
sender's own clock (no clock is shared). The agent takes a report only from its session's
own participant and at most one per agent reply, and emits it as a ``turn_latency`` event
(:class:`~omnivoice_rtc.types.TurnLatency`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from omnivoice_rtc.types import Event, TurnLatency

__all__ = [
    "CONTROL_TOPIC",
    "EVENTS_TOPIC",
    "LATENCY_TOPIC",
    "MAX_MOUTH_TO_EAR_MS",
    "MAX_PAYLOAD_BYTES",
    "MEASURED_BY",
    "ControlCommand",
    "decode_control",
    "decode_event_packet",
    "decode_latency_report",
    "encode_control",
    "encode_event",
    "encode_latency_report",
]

EVENTS_TOPIC: Final = "omnivoice.events"
CONTROL_TOPIC: Final = "omnivoice.control"
LATENCY_TOPIC: Final = "omnivoice.latency"
MEASURED_BY: Final = ("browser", "carrier")
MAX_MOUTH_TO_EAR_MS: Final = 60_000
"""A report above this (ms) is refused: no turn is a minute long at the caller's ear."""
MAX_PAYLOAD_BYTES: Final = 14_000
"""Keep packets under LiveKit's ~15 KiB reliable data packet guidance."""

# --------------------------------------------------------------------------- events


def encode_event(event: Event, *, participant: str, session_id: str) -> bytes:
    """The JSON packet for ``event`` (UTF-8), shrunk to fit :data:`MAX_PAYLOAD_BYTES`."""
    body: dict[str, Any] = event.to_dict()
    body["participant"] = participant
    body["session_id"] = session_id
    raw = json.dumps(body, separators=(",", ":")).encode()
    data = body.get("data")
    if len(raw) <= MAX_PAYLOAD_BYTES or not isinstance(data, dict) or "transcript" not in data:
        return raw
    turns = list(data["transcript"])
    while turns and len(raw) > MAX_PAYLOAD_BYTES:
        turns.pop(0)
        body["data"] = {**data, "transcript": turns, "transcript_truncated": True}
        raw = json.dumps(body, separators=(",", ":")).encode()
    return raw


def decode_event_packet(payload: bytes | str) -> tuple[Event, str, str]:
    """Parse a packet back into (Event, participant identity, session id); ValueError if bad."""
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"omnivoice.events packet: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("omnivoice.events packet: expected a JSON object")
    participant = body.pop("participant", "")
    session_id = body.pop("session_id", "")
    if not isinstance(participant, str) or not isinstance(session_id, str):
        raise ValueError("omnivoice.events packet: participant and session_id must be strings")
    return Event.from_dict(body), participant, session_id


# --------------------------------------------------------------------------- control


CommandType = Literal["say", "interrupt", "close", "speak", "hold", "resume", "warm_transfer"]
_TYPES: Final = ("say", "interrupt", "close", "speak", "hold", "resume", "warm_transfer")
_WITH_TEXT: Final = ("say", "speak", "warm_transfer")
MAX_TRANSFER_TARGET_CHARS: Final = 256
"""Longest ``to`` of a ``warm_transfer`` command (characters)."""


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """One decoded command; ``participant`` is "" when the packet named none.
    ``warm_transfer``: ``to`` is the human (E.164 number or SIP URI) and ``text`` the
    summary the agent briefs them with."""

    type: CommandType
    text: str = ""
    participant: str = ""
    to: str = ""


def _check_to(command_type: str, to: object) -> str:
    if command_type != "warm_transfer":
        return ""
    if not isinstance(to, str) or not to.strip():
        raise ValueError("control command 'warm_transfer': needs a non-empty string 'to'")
    if len(to) > MAX_TRANSFER_TARGET_CHARS:
        raise ValueError(
            f"control command 'warm_transfer': 'to' longer than {MAX_TRANSFER_TARGET_CHARS}"
            " characters"
        )
    return to


def encode_control(command: ControlCommand) -> bytes:
    """The UTF-8 JSON packet for ``command`` (ValueError for an empty ``say`` text)."""
    if command.type not in _TYPES:
        raise ValueError(
            f"control command type: must be one of {', '.join(_TYPES)}; got {command.type!r}"
        )
    if command.type in _WITH_TEXT and not command.text.strip():
        raise ValueError(f"control command {command.type!r}: text must not be empty")
    body: dict[str, str] = {"type": command.type}
    if command.type in _WITH_TEXT:
        body["text"] = command.text
    if command.participant:
        body["participant"] = command.participant
    if command.type == "warm_transfer":
        body["to"] = _check_to(command.type, command.to)
    return json.dumps(body, separators=(",", ":")).encode()


def decode_control(payload: bytes | str) -> ControlCommand:
    """Parse a control packet; ValueError with the reason when it is malformed."""
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"omnivoice.control packet: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("omnivoice.control packet: expected a JSON object")
    kind = body.get("type")
    if kind not in _TYPES:
        raise ValueError(
            f"omnivoice.control packet: type must be one of {', '.join(_TYPES)}; got {kind!r}"
        )
    participant = body.get("participant", "")
    if not isinstance(participant, str):
        raise ValueError("omnivoice.control packet: participant must be a string")
    text = body.get("text", "")
    if kind in _WITH_TEXT and (not isinstance(text, str) or not text.strip()):
        raise ValueError(f"omnivoice.control packet: {kind!r} needs a non-empty string 'text'")
    try:
        to = _check_to(kind, body.get("to"))
    except ValueError as exc:
        raise ValueError(f"omnivoice.control packet: {exc}") from None
    return ControlCommand(
        type=kind, text=text if kind in _WITH_TEXT else "", participant=participant, to=to
    )


# --------------------------------------------------------------------------- latency


def encode_latency_report(*, mouth_to_ear_ms: int, measured_by: str) -> bytes:
    """The UTF-8 JSON packet of one turn's mouth-to-ear latency (ms); ValueError if bad."""
    report = TurnLatency(mouth_to_ear_ms=mouth_to_ear_ms, measured_by=measured_by)
    _check_latency(report)
    return json.dumps(report.to_dict(), separators=(",", ":")).encode()


def decode_latency_report(payload: bytes | str) -> TurnLatency:
    """Parse an ``omnivoice.latency`` packet; ValueError if it is not one."""
    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ValueError(f"omnivoice.latency packet: invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("omnivoice.latency packet: expected a JSON object")
    ms, by = body.get("mouth_to_ear_ms"), body.get("measured_by")
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not isinstance(by, str):
        raise ValueError("omnivoice.latency packet: mouth_to_ear_ms (number), measured_by (str)")
    report = TurnLatency(mouth_to_ear_ms=round(ms), measured_by=by)
    _check_latency(report)
    return report


def _check_latency(report: TurnLatency) -> None:
    if report.measured_by not in MEASURED_BY:
        raise ValueError(f"omnivoice.latency: measured_by must be one of {MEASURED_BY}")
    if not 0 < report.mouth_to_ear_ms <= MAX_MOUTH_TO_EAR_MS:
        raise ValueError(
            f"omnivoice.latency: mouth_to_ear_ms must be in 1..{MAX_MOUTH_TO_EAR_MS} ms"
        )
