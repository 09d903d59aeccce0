"""RealtimeBridge function calls: the handler runs, and the call is recorded by the same
tool-call path livekit-agents sessions use (arguments normalised one way)."""

from __future__ import annotations

import json

import pytest
from livekit.agents import llm

from omnivoice_rtc.conversation import INVALID_ARGUMENTS_ERROR
from omnivoice_rtc.realtime_bridge.function_calls import (
    NO_HANDLER_ERROR,
    declared_tool,
    run_function_call,
)
from omnivoice_rtc.types import FunctionDeclaration, ToolCall

pytestmark = pytest.mark.unit


def _call(arguments: str) -> llm.FunctionCall:
    return llm.FunctionCall(call_id="c1", name="get_weather", arguments=arguments)


async def test_async_handler_result_is_recorded_as_json() -> None:
    seen: list[tuple[str, str, str]] = []

    async def handler(call_id: str, name: str, arguments: str) -> dict[str, str]:
        seen.append((call_id, name, arguments))
        return {"forecast": "sunny"}

    record = await run_function_call(_call('{"city": "Paris"}'), handler)
    assert seen == [("c1", "get_weather", '{"city": "Paris"}')]
    assert (record.name, record.arguments, record.error) == ("get_weather", {"city": "Paris"}, "")
    assert json.loads(record.result) == {"forecast": "sunny"}
    assert record.duration_ms >= 0


async def test_arguments_are_normalised_as_for_livekit_sessions() -> None:
    """A non-object value is wrapped under "_value" (it used to be "value" here)."""
    record = await run_function_call(_call("[1, 2]"), lambda _i, _n, _a: "ok")
    assert record == ToolCall(
        name="get_weather",
        arguments={"_value": [1, 2]},
        result="ok",
        duration_ms=record.duration_ms,
    )
    empty = await run_function_call(_call(""), lambda _i, _n, arguments: arguments)
    assert (empty.arguments, empty.result) == ({}, "{}")  # the handler gets "{}"


async def test_invalid_arguments_are_kept_raw_and_the_handler_is_not_called() -> None:
    called: list[str] = []
    record = await run_function_call(_call("{city"), lambda *_a: called.append("x"))
    assert called == []
    assert record.arguments == {"_raw": "{city"}
    assert (record.result, record.error) == ("", INVALID_ARGUMENTS_ERROR)


async def test_no_handler_and_a_raising_handler_become_errors() -> None:
    assert (await run_function_call(_call("{}"), None)).error == NO_HANDLER_ERROR

    def broken(_id: str, _name: str, _arguments: str) -> str:
        raise LookupError("no such city")

    record = await run_function_call(_call("{}"), broken)
    assert (record.result, record.error) == ("", "LookupError: no such city")


def test_declared_tool_carries_the_schema_and_a_default_one() -> None:
    decl = FunctionDeclaration(
        name="get_weather",
        description="Weather by city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    tool = declared_tool(decl)
    assert tool.info.raw_schema == {
        "name": "get_weather",
        "description": "Weather by city",
        "parameters": decl.parameters,
    }
    bare = declared_tool(FunctionDeclaration(name="ping"))
    assert bare.info.raw_schema["parameters"] == {"type": "object", "properties": {}}
