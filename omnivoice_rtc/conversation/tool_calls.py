"""The one path from a model's function call to a recorded :class:`ToolCall`.

Both livekit-agents sessions (``agent.event_map.tool_calls_from``) and the
RealtimeBridge (``realtime_bridge.bridge``) build their ``ToolCall`` s here, so a call
is recorded the same way whichever runtime executed it.

A model sends a function's arguments as a JSON string; ``ToolCall.arguments`` is an
object. :func:`normalize_arguments` maps the string to it:

==============================  ======================================
the model sent                  ``ToolCall.arguments``
==============================  ======================================
a JSON object                   that object
nothing ("", only whitespace)   ``{}`` (a call without arguments)
another JSON value              ``{"_value": value}`` (list, number, …)
text that is not JSON           ``{"_raw": text}``
==============================  ======================================

The leading underscore keeps the two wrapper keys apart from parameter names a
function declares (a schema property called ``value`` is common; ``_value`` is not).
"""

from __future__ import annotations

import json
from typing import Any, Final

from omnivoice_rtc.types import ToolCall

__all__ = [
    "INVALID_ARGUMENTS_ERROR",
    "arguments_are_json",
    "build_tool_call",
    "normalize_arguments",
]

INVALID_ARGUMENTS_ERROR: Final = "arguments are not valid JSON"
"""``ToolCall.error`` of a call whose argument string did not parse (RealtimeBridge)."""


def normalize_arguments(raw: str | None) -> dict[str, Any]:
    """The arguments object for the JSON string a model sent (see the module table)."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {"_raw": raw}
    if isinstance(value, dict):
        return value
    return {"_value": value}


def arguments_are_json(raw: str | None) -> bool:
    """True when the model's argument string is empty or valid JSON (a handler can run)."""
    if raw is None or not raw.strip():
        return True
    try:
        json.loads(raw)
    except json.JSONDecodeError:
        return False
    return True


def build_tool_call(
    *,
    name: str,
    arguments: str | None,
    result: str = "",
    error: str = "",
    duration_s: float = 0.0,
) -> ToolCall:
    """The recorded call: ``arguments`` is the model's JSON string, ``duration_s`` the
    time (s) from the call to its output (``ToolCall.duration_ms`` is in ms, >= 0)."""
    return ToolCall(
        name=name,
        arguments=normalize_arguments(arguments),
        result=result,
        error=error,
        duration_ms=max(0, round(duration_s * 1000)),
    )
