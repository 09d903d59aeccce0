"""A user's agent whose pipeline each caller picks (token metadata ``pipeline`` and
``base_url``): the same tools, seed functions and LLMProvider on every pipeline.

``pipeline``: ``openai-realtime`` (a ``RealtimeConfig`` whose seed ``functions`` +
``on_function_call`` are its tools), ``gemini-realtime`` and ``text`` (a livekit-agents
function tool), ``llm-provider`` (the local pipeline driven by an ``LLMProvider`` that
reports a tool it ran itself).
"""

from __future__ import annotations

import json

from livekit.agents import function_tool

from omnivoice_rtc import (
    AgentSpec,
    CallContext,
    FunctionDeclaration,
    LLMOptions,
    RealtimeConfig,
    STTOptions,
    TextPipelineOptions,
    ToolCall,
    TTSOptions,
    Turn,
)

CHECK_ORDER = FunctionDeclaration(
    name="check_order",
    description="Look up an order by its number.",
    parameters={
        "type": "object",
        "properties": {"order": {"type": "string"}},
        "required": ["order"],
    },
)


def on_function_call(call_id: str, name: str, arguments: str) -> dict[str, str]:
    """The seed's OnFunctionCall: answers check_order."""
    order = json.loads(arguments).get("order", "")
    return {"order": order, "status": "shipped"}


@function_tool
async def lookup_weather(city: str) -> str:
    """Look up the weather in a city."""
    return f"Sunny in {city}."


def generate(user_input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
    """An LLMProvider that ran a tool itself and reports it."""
    call = ToolCall(name="weather_service", arguments={"city": "Paris"}, result="sunny")
    return "The weather service says it is sunny in Paris.", [call]


def build(ctx: CallContext) -> AgentSpec:
    kind = ctx.parameters.get("pipeline", "")
    base_url = ctx.parameters.get("base_url", "")
    if kind == "openai-realtime":
        config = RealtimeConfig(
            provider="openai",
            api_key="sk-test",
            base_url=base_url,
            instructions="You check orders.",
            functions=[CHECK_ORDER],
            on_function_call=on_function_call,
        )
        return AgentSpec(pipeline=config)
    if kind == "gemini-realtime":
        config = RealtimeConfig(provider="gemini", api_key="g-test", base_url=base_url)
        return AgentSpec(pipeline=config, tools=[lookup_weather])
    if kind == "text":
        text = TextPipelineOptions(
            stt=STTOptions(provider="openai", api_key="sk-test", base_url=base_url),
            tts=TTSOptions(provider="openai", api_key="sk-test", base_url=base_url),
            llm=LLMOptions(provider="openai", api_key="sk-test", base_url=base_url),
        )
        return AgentSpec(
            pipeline=text, instructions="You know the weather.", tools=[lookup_weather]
        )
    if kind == "llm-provider":
        return AgentSpec(pipeline="local", llm_provider=generate)
    raise ValueError(f"unknown pipeline {kind!r}")
