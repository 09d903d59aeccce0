"""The ``omnivoice.call_control`` data topic: call-control requests to the process that
owns a call, and its replies.

A carrier call is owned by the web process that bridges its media stream (the shim): its
REST credentials and the stream live there. The agent (in the worker) and the operator
CLI reach it through the call's room: they publish a request to the shim's caller
participant, which carries it out on its :class:`~omnivoice_rtc.shim.pstn_session.PstnSession`
and answers the sender on the same topic. Whichever replica owns the call holds that
participant, so the request reaches the owner wherever it runs. SIP calls need no owner
(the LiveKit server API acts on any SIP participant): see
:mod:`omnivoice_rtc.calls.control_client`, the one place that decides the way per route.

Wire format (one reliable data packet each, UTF-8 JSON)::

    {"type": "request", "id": "5f0c…", "action": "transfer", "to": "+15550100", "say": "…"}
    {"type": "request", "id": "…", "action": "dtmf", "digits": "123#"}
    {"type": "request", "id": "…", "action": "hangup", "reason": "caller_asked"}
    {"type": "request", "id": "…", "action": "capabilities"}
    {"type": "reply", "id": "5f0c…", "ok": true, "result": {…}}
    {"type": "reply", "id": "…", "ok": false, "error": "unsupported", "message": "…"}

``error`` is ``unsupported`` (UnsupportedActionError), ``invalid`` (bad input),
``closed`` (the call has ended), ``config`` (a setting is missing) or ``failed`` (the
carrier refused; ``message`` says why).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from omnivoice_rtc._errors import (
    ConfigError,
    OmniVoiceError,
    ProviderError,
    SessionClosedError,
    UnsupportedActionError,
)
from omnivoice_rtc.calls.control import CallAction, CallControl

__all__ = [
    "CALL_CONTROL_TOPIC",
    "CAPABILITIES",
    "OPERATOR_IDENTITY_PREFIX",
    "ControlReply",
    "ControlRequest",
    "decode_packet",
    "execute",
]

logger = logging.getLogger(__name__)

CALL_CONTROL_TOPIC: Final = "omnivoice.call_control"
OPERATOR_IDENTITY_PREFIX: Final = "omnivoice-operator-"
"""Identity prefix of an operator's (the CLI's) participant in a call room; only the
server mints tokens for call rooms, so the owner accepts requests from these and from
the call's agent."""
CAPABILITIES: Final = "capabilities"
"""The request that asks for the call's :class:`~omnivoice_rtc.calls.control.Capabilities`."""
MAX_PACKET_BYTES: Final = 4096
_ACTIONS: Final = frozenset({*(a.value for a in CallAction), CAPABILITIES})
ErrorKind = Literal["", "unsupported", "invalid", "closed", "config", "failed"]


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """One request: ``action`` is a :class:`CallAction` value or ``capabilities``;
    ``args`` its string arguments (``to``, ``say``, ``digits``, ``reason``, ``summary``)."""

    action: str
    args: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def encode(self) -> bytes:
        return json.dumps(
            {"type": "request", "id": self.id, "action": self.action, **self.args},
            separators=(",", ":"),
        ).encode()


@dataclass(frozen=True, slots=True)
class ControlReply:
    """The answer to request ``id``: ``ok`` with ``result``, or ``error`` + ``message``."""

    id: str
    ok: bool
    error: ErrorKind = ""
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        body: dict[str, Any] = {"type": "reply", "id": self.id, "ok": self.ok}
        if self.ok:
            body["result"] = self.result
        else:
            body["error"] = self.error
            body["message"] = self.message
        return json.dumps(body, separators=(",", ":")).encode()

    def raise_for_error(self, *, action: str, route: str) -> None:
        """The reply's error as the exception the owner raised (OmniVoiceError family)."""
        if self.ok:
            return
        if self.error == "unsupported":
            raise UnsupportedActionError(self.message, action=action, route=route)
        if self.error == "invalid":
            raise ValueError(self.message)
        if self.error == "closed":
            raise SessionClosedError(self.message)
        if self.error == "config":
            raise ConfigError(self.message)
        raise ProviderError(self.message)


def decode_packet(payload: bytes | str) -> ControlRequest | ControlReply:
    """A request or a reply; ValueError when the packet is malformed."""
    if len(payload) > MAX_PACKET_BYTES:
        raise ValueError("omnivoice.call_control packet: too large")
    try:
        body = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"omnivoice.call_control packet: invalid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise ValueError("omnivoice.call_control packet: expected an object with an id")
    kind = body.get("type")
    if kind == "reply":
        ok = body.get("ok") is True
        error: ErrorKind = ""
        if not ok:
            raw = body.get("error")
            error = raw if raw in ("unsupported", "invalid", "closed", "config") else "failed"
        result = body.get("result", {})
        return ControlReply(
            id=body["id"],
            ok=ok,
            error=error,
            message=str(body.get("message", "")),
            result=result if isinstance(result, dict) else {},
        )
    if kind != "request":
        raise ValueError("omnivoice.call_control packet: type must be request or reply")
    action = body.get("action")
    if action not in _ACTIONS:
        raise ValueError(f"omnivoice.call_control packet: unknown action {action!r}")
    args = {
        k: v
        for k, v in body.items()
        if k in ("to", "say", "digits", "reason", "summary") and isinstance(v, str)
    }
    return ControlRequest(action=action, args=args, id=body["id"])


async def execute(control: CallControl, request: ControlRequest) -> ControlReply:
    """Carry ``request`` out on ``control`` (the owner's session) and say how it went."""
    args = request.args
    try:
        if request.action == CAPABILITIES:
            return ControlReply(request.id, True, result=control.capabilities.to_dict())
        if request.action == CallAction.TRANSFER:
            await control.transfer(args.get("to", ""), say=args.get("say"))
        elif request.action == CallAction.HOLD:
            await control.hold()
        elif request.action == CallAction.RESUME:
            await control.resume()
        elif request.action == CallAction.DTMF:
            await control.send_dtmf(args.get("digits", ""))
        elif request.action == CallAction.WARM_TRANSFER:  # the route says whether it can
            connected = await control.warm_transfer(args.get("to", ""), args.get("summary", ""))
            return ControlReply(request.id, True, result={"connected": connected})
        elif request.action == CallAction.HANGUP:
            await control.hangup(args.get("reason") or "agent_hangup")
        else:  # reason: decode_packet admits only known actions; a new one must be added here
            raise UnsupportedActionError(
                f"call control: action {request.action!r} is not carried out here",
                action=request.action,
                route=control.capabilities.route,
            )
    except UnsupportedActionError as exc:
        return ControlReply(request.id, False, "unsupported", str(exc))
    except SessionClosedError as exc:
        return ControlReply(request.id, False, "closed", str(exc))
    except ConfigError as exc:
        return ControlReply(request.id, False, "config", str(exc))
    except ValueError as exc:
        return ControlReply(request.id, False, "invalid", str(exc))
    except OmniVoiceError as exc:
        logger.warning("call control failed", extra={"action": request.action, "error": str(exc)})
        return ControlReply(request.id, False, "failed", str(exc))
    return ControlReply(request.id, True)
