"""A voice assistant on the OpenAI Realtime API with one tool (the weather).

The key comes from ``OPENAI_API_KEY`` (and an endpoint override, if any, from
``OPENAI_BASE_URL``); nothing else is needed:

    OPENAI_API_KEY=sk-... omnivoice-rtc worker dev --agent examples.realtime_assistant:build
"""

from __future__ import annotations

from livekit.agents import function_tool

from omnivoice_rtc import AgentSpec, CallContext, RealtimeConfig

__all__ = ["FORECASTS", "build", "weather"]

FORECASTS = {"paris": "sunny, 24 degrees", "london": "light rain, 17 degrees"}


@function_tool
async def weather(city: str) -> str:
    """Today's weather in a city."""
    forecast = FORECASTS.get(city.strip().lower())
    return f"{city}: {forecast}." if forecast else f"I have no forecast for {city}."


def build(ctx: CallContext) -> AgentSpec:
    """The assistant for one call: OpenAI Realtime, the weather tool, a short prompt."""
    return AgentSpec(
        pipeline=RealtimeConfig(
            provider="openai",
            model="gpt-realtime",
            voice="alloy",
            instructions=(
                "You are a concise voice assistant. Use the weather tool for any question "
                "about the weather. Answer in one or two sentences."
            ),
        ),
        tools=[weather],
        silence=30,
    )
