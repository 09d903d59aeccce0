"""Example (c): an OpenAI Realtime assistant with a tool. See README.md."""

from examples.realtime_assistant.agent import build, weather

__all__ = ["build", "weather"]
