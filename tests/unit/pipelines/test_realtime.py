"""build_realtime: provider models, base URLs, keys, and function tools (no sockets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from google.genai import types as genai_types
from livekit.agents import llm
from livekit.plugins.google import realtime as google_realtime
from livekit.plugins.openai import realtime as openai_realtime

from omnivoice_rtc import ConfigError
from omnivoice_rtc.pipelines.realtime import (
    DEFAULT_GEMINI_MODEL,
    DEFAULT_OPENAI_MODEL,
    build_function_tools,
    build_realtime,
)
from omnivoice_rtc.types import FunctionDeclaration, RealtimeConfig

pytestmark = pytest.mark.unit

WEATHER = FunctionDeclaration(
    name="get_weather",
    description="Current weather in a city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


@dataclass
class _Call:
    call_id: str


@dataclass
class _Context:
    """Stands in for livekit's RunContext: the tool only reads function_call.call_id."""

    function_call: _Call


async def _run(tool: llm.RawFunctionTool[Any, Any], args: dict[str, Any], call_id: str) -> Any:
    return await tool(raw_arguments=args, context=_Context(_Call(call_id)))


def test_openai_model_from_config() -> None:
    parts = build_realtime(
        RealtimeConfig(
            provider="openai",
            api_key="sk-test",
            voice="alloy",
            instructions="Answer in French.",
            base_url="http://127.0.0.1:9/v1",
        )
    )
    model = parts.llm
    assert isinstance(model, openai_realtime.RealtimeModel)
    assert model.model == DEFAULT_OPENAI_MODEL
    assert model._opts.base_url == "http://127.0.0.1:9/v1"
    assert model._opts.voice == "alloy"
    assert model._opts.api_key == "sk-test"
    assert parts.instructions == "Answer in French."
    assert parts.tools == []


def test_openai_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    parts = build_realtime(RealtimeConfig(provider="openai", model="gpt-realtime-mini"))
    assert parts.llm._opts.api_key == "sk-env"
    assert parts.llm.model == "gpt-realtime-mini"


def test_openai_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY: not set"):
        build_realtime(RealtimeConfig(provider="openai"))


def test_gemini_model_from_config() -> None:
    parts = build_realtime(
        RealtimeConfig(
            provider="gemini",
            api_key="g-test",
            voice="Kore",
            temperature=0.4,
            base_url="https://127.0.0.1:9",
        )
    )
    model = parts.llm
    assert isinstance(model, google_realtime.RealtimeModel)
    assert model.model == DEFAULT_GEMINI_MODEL
    assert model._opts.voice == "Kore"
    assert model._opts.temperature == 0.4
    assert model._opts.vertexai is False
    assert isinstance(model._opts.http_options, genai_types.HttpOptions)
    assert model._opts.http_options.base_url == "https://127.0.0.1:9"


def test_gemini_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"^GOOGLE_API_KEY: not set"):
        build_realtime(RealtimeConfig(provider="gemini"))


def test_functions_become_raw_tools_with_the_declared_schema() -> None:
    parts = build_realtime(
        RealtimeConfig(
            provider="openai",
            api_key="k",
            functions=[WEATHER],
            on_function_call=lambda call_id, name, args: "sunny",
        )
    )
    assert len(parts.tools) == 1
    tool = parts.tools[0]
    assert isinstance(tool, llm.RawFunctionTool)
    assert tool.info.name == "get_weather"
    assert tool.info.raw_schema == {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": WEATHER.parameters,
    }


async def test_sync_handler_gets_call_id_name_and_json_arguments() -> None:
    calls: list[tuple[str, str, str]] = []

    def handler(call_id: str, name: str, args: str) -> dict[str, int]:
        calls.append((call_id, name, args))
        return {"temp_c": 21}

    [tool] = build_function_tools([WEATHER], handler)
    result = await _run(tool, {"city": "Paris"}, "call_1")
    assert calls == [("call_1", "get_weather", '{"city": "Paris"}')]
    assert json.loads(result) == {"temp_c": 21}


async def test_async_handler_string_result_is_returned_as_is() -> None:
    async def handler(call_id: str, name: str, args: str) -> str:
        return f"{name}:{json.loads(args)['city']}"

    [tool] = build_function_tools([WEATHER], handler)
    assert await _run(tool, {"city": "Oslo"}, "c") == "get_weather:Oslo"


async def test_none_result_is_an_empty_string() -> None:
    [tool] = build_function_tools([WEATHER], lambda *_: None)
    assert await _run(tool, {}, "c") == ""


async def test_handler_error_becomes_a_tool_error() -> None:
    def handler(call_id: str, name: str, args: str) -> str:
        raise RuntimeError("weather service down")

    [tool] = build_function_tools([WEATHER], handler)
    with pytest.raises(llm.ToolError, match="get_weather failed: weather service down"):
        await _run(tool, {"city": "Paris"}, "c")


async def test_tool_error_from_handler_passes_through() -> None:
    def handler(call_id: str, name: str, args: str) -> str:
        raise llm.ToolError("unknown city")

    [tool] = build_function_tools([WEATHER], handler)
    with pytest.raises(llm.ToolError, match=r"^unknown city$"):
        await _run(tool, {"city": "Atlantis"}, "c")


def test_functions_without_a_handler_are_not_offered() -> None:
    assert build_function_tools([WEATHER], None) == []


def test_duplicate_function_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="duplicate function name 'get_weather'"):
        build_function_tools([WEATHER, WEATHER], lambda *_: "")


def test_parameterless_function_gets_an_empty_object_schema() -> None:
    [tool] = build_function_tools([FunctionDeclaration(name="ping")], lambda *_: "pong")
    assert tool.info.raw_schema["parameters"] == {"type": "object", "properties": {}}
