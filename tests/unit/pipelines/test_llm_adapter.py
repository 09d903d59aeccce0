"""LLMProviderAdapter: a plain generate(input, history) as a livekit-agents LLM."""

from __future__ import annotations

from typing import Any

import pytest
from livekit.agents import APIConnectionError, llm

from omnivoice_rtc.pipelines.llm_adapter import (
    LLMProviderAdapter,
    ProviderToolCallsEvent,
    history_from_chat_ctx,
)
from omnivoice_rtc.types import ToolCall, Turn

pytestmark = pytest.mark.unit


def _ctx(*messages: tuple[str, str]) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    for role, text in messages:
        ctx.add_message(role=role, content=text)  # type: ignore[arg-type]  # reason: roles are literals in the test table
    return ctx


async def _collect(adapter: LLMProviderAdapter, ctx: llm.ChatContext) -> str:
    text = ""
    async with adapter.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
    return text


class _Provider:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Turn]]] = []

    async def generate(self, input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        self.calls.append((input, history))
        return f"echo: {input}", []


def test_history_splits_last_user_message_and_drops_system() -> None:
    ctx = _ctx(
        ("system", "be nice"),
        ("user", "hi"),
        ("assistant", "hello"),
        ("user", "what time is it"),
    )
    user_input, history = history_from_chat_ctx(ctx)
    assert user_input == "what time is it"
    assert [(t.role, t.text) for t in history] == [("user", "hi"), ("agent", "hello")]


def test_history_without_a_trailing_user_message() -> None:
    user_input, history = history_from_chat_ctx(_ctx(("user", "hi"), ("assistant", "hello")))
    assert user_input == ""
    assert [t.role for t in history] == ["user", "agent"]


async def test_object_provider_drives_the_stream() -> None:
    provider = _Provider()
    adapter = LLMProviderAdapter(provider)
    text = await _collect(adapter, _ctx(("user", "hi"), ("assistant", "hey"), ("user", "again")))
    assert text == "echo: again"
    [(user_input, history)] = provider.calls
    assert user_input == "again"
    assert [(t.role, t.text) for t in history] == [("user", "hi"), ("agent", "hey")]


async def test_sync_function_and_plain_string_result() -> None:
    adapter = LLMProviderAdapter(lambda input, history: input.upper())
    assert await _collect(adapter, _ctx(("user", "shout"))) == "SHOUT"


async def test_reported_tool_calls_are_emitted() -> None:
    call = ToolCall(name="lookup", arguments={"q": "x"}, result="42", duration_ms=3)

    def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        return "It is 42.", [call]

    adapter = LLMProviderAdapter(generate)
    seen: list[ProviderToolCallsEvent] = []
    adapter.on("provider_tool_calls", seen.append)
    assert await _collect(adapter, _ctx(("user", "answer?"))) == "It is 42."
    assert len(seen) == 1
    assert seen[0].tool_calls == [call]
    assert seen[0].input == "answer?"


async def test_provider_error_becomes_a_non_retryable_api_error() -> None:
    def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        raise RuntimeError("backend down")

    adapter = LLMProviderAdapter(generate)
    with pytest.raises(APIConnectionError, match="backend down") as info:
        await _collect(adapter, _ctx(("user", "hi")))
    assert info.value.retryable is False


async def test_malformed_result_is_an_error() -> None:
    def generate(input: str, history: list[Turn]) -> Any:
        return ("text", ["not a ToolCall"])

    adapter = LLMProviderAdapter(generate)
    with pytest.raises(APIConnectionError, match=r"must return \(text: str, tool_calls"):
        await _collect(adapter, _ctx(("user", "hi")))


def test_non_callable_provider_is_refused() -> None:
    with pytest.raises(TypeError, match="llm_provider: expected"):
        LLMProviderAdapter(42)  # type: ignore[arg-type]  # reason: the point of the test
