"""How a RealtimeBridge declares its functions to the model and runs the calls it makes.

The bridge runs function calls itself (not livekit-agents' tool executor): the model
sees schema-only tools (:func:`declared_tool`), and each call goes to the
``on_function_call(call_id, name, arguments_json)`` handler (:func:`run_function_call`).
The call is recorded by :func:`omnivoice_rtc.conversation.build_tool_call`, the same
path livekit-agents sessions use, so arguments are normalised the same way.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from typing import Any, Final

from livekit.agents import llm

from omnivoice_rtc.conversation import INVALID_ARGUMENTS_ERROR, arguments_are_json, build_tool_call
from omnivoice_rtc.types import FunctionDeclaration, ToolCall
from omnivoice_rtc.types.config import FunctionCallHandler

__all__ = ["NO_HANDLER_ERROR", "declared_tool", "run_function_call"]

logger = logging.getLogger(__name__)

NO_HANDLER_ERROR: Final = "no function handler configured"
"""``ToolCall.error`` (and the model's function output) when the bridge has no handler."""


def declared_tool(decl: FunctionDeclaration) -> llm.RawFunctionTool[Any, Any]:
    """A tool with ``decl``'s schema whose body is never run (the bridge runs calls)."""
    schema = {
        "name": decl.name,
        "description": decl.description,
        "parameters": dict(decl.parameters or {"type": "object", "properties": {}}),
    }

    async def not_called_here(raw_arguments: dict[str, object]) -> str:
        raise llm.ToolError("executed by RealtimeBridge")  # the bridge runs calls itself

    return llm.function_tool(not_called_here, raw_schema=schema)


async def run_function_call(
    call: llm.FunctionCall, handler: FunctionCallHandler | None
) -> ToolCall:
    """Run ``handler`` (sync or async) for one call; the recorded ToolCall.

    ``result`` is the handler's string, or its value as JSON. ``error`` is set instead
    when the arguments are not JSON (the handler is not called), when there is no
    handler, or when the handler raised (``"TypeName: message"``); the model gets
    the error as the function's output.
    """
    started = time.monotonic()
    error = "" if arguments_are_json(call.arguments) else INVALID_ARGUMENTS_ERROR
    result = ""
    if not error and handler is None:
        error = NO_HANDLER_ERROR
    if not error and handler is not None:
        try:
            value = handler(call.call_id, call.name, call.arguments or "{}")
            if inspect.isawaitable(value):
                value = await value
            result = value if isinstance(value, str) else json.dumps(value, default=str)
        except Exception as exc:  # noqa: BLE001 - reason: reported to the model and as an event
            error = f"{type(exc).__name__}: {exc}"
            logger.warning("function call failed", extra={"function": call.name})
    return build_tool_call(
        name=call.name,
        arguments=call.arguments,
        result=result,
        error=error,
        duration_s=time.monotonic() - started,
    )
