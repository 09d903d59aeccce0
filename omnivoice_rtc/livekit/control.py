"""Commands to the agent over the room: data topic ``omnivoice.control``.

Processes that do not hold the session object (the carrier shims, SIP call control,
a browser) steer it by publishing one reliable data packet per command::

    {"type": "say", "text": "What is my balance?", "participant": "caller-1"}
    {"type": "interrupt", "participant": "caller-1"}
    {"type": "close", "participant": "caller-1"}

* ``say``: a user turn from text, bypassing STT (``LiveKitSession.send_text``); the agent
  answers it by voice. ``text`` is required and non-empty.
* ``interrupt``: stop the agent's current speech (``LiveKitSession.interrupt``).
* ``close``: end that session (``LiveKitSession.close``).

``participant`` (optional) is the identity of the session's user. When it is absent the
command is for the sender's own session; when the sender has none and the room has
exactly one session, for that one. Malformed packets are logged and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["CONTROL_TOPIC", "ControlCommand", "decode_control", "encode_control"]

CONTROL_TOPIC: Final = "omnivoice.control"

CommandType = Literal["say", "interrupt", "close"]
_TYPES: Final = ("say", "interrupt", "close")


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """One decoded command; ``participant`` is "" when the packet named none."""

    type: CommandType
    text: str = ""
    participant: str = ""


def encode_control(command: ControlCommand) -> bytes:
    """The UTF-8 JSON packet for ``command`` (ValueError for an empty ``say`` text)."""
    if command.type not in _TYPES:
        raise ValueError(
            f"control command type: must be one of {', '.join(_TYPES)}; got {command.type!r}"
        )
    if command.type == "say" and not command.text.strip():
        raise ValueError("control command 'say': text must not be empty")
    body: dict[str, str] = {"type": command.type}
    if command.type == "say":
        body["text"] = command.text
    if command.participant:
        body["participant"] = command.participant
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
    if kind == "say" and (not isinstance(text, str) or not text.strip()):
        raise ValueError("omnivoice.control packet: 'say' needs a non-empty string 'text'")
    return ControlCommand(type=kind, text=text if kind == "say" else "", participant=participant)
