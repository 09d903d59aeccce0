"""Drive the text pipeline from a plain ``generate(input, history)`` (Go ``LLMProvider``).

:class:`LLMProviderAdapter` wraps either an object with a ``generate`` method
(:class:`~omnivoice_rtc.types.LLMProvider`) or a bare function with the same signature,
sync or async, as a livekit-agents ``llm.LLM``::

    async def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        return f"You said: {input}", []

    parts = build_text(options, llm_provider=generate)

Per request the adapter passes the last user message as ``input`` and the earlier
user/assistant messages as ``history`` (``Turn`` with role ``user``/``agent``; system
instructions are not included, the provider owns its prompt). The returned text is
streamed to TTS as one chunk. The returned ``ToolCall`` list describes tools the
provider already ran (livekit does not execute them); each list is emitted as the
adapter's ``"provider_tool_calls"`` event (a ``ProviderToolCallsEvent``), which
``LiveKitSession`` records as ``tool_call`` events, attached to the agent turn that
follows and counted in its metrics. A raise inside ``generate`` becomes a non-retryable
``APIConnectionError`` (an LLM error event on the session); so does a malformed result.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from livekit.agents import APIConnectionError, llm
from livekit.agents.types import (
    DEFAULT_API_CONNECT_OPTIONS,
    NOT_GIVEN,
    APIConnectOptions,
    NotGivenOr,
)

from omnivoice_rtc.types.conversation import ToolCall, Turn
from omnivoice_rtc.types.protocols import LLMProvider

__all__ = [
    "GenerateFunction",
    "LLMProviderAdapter",
    "ProviderToolCallsEvent",
    "history_from_chat_ctx",
]

GenerateResult = tuple[str, list[ToolCall]] | str
GenerateFunction = Callable[[str, list[Turn]], GenerateResult | Awaitable[GenerateResult]]
"""A bare ``generate(input, history) -> (text, tool_calls)``, sync or async; a plain
``str`` result means no tool calls."""


@dataclass(slots=True)
class ProviderToolCallsEvent:
    """Tool calls an ``LLMProvider`` reported for one generation."""

    request_id: str
    input: str
    tool_calls: list[ToolCall] = field(default_factory=list)


def _resolve(provider: LLMProvider | GenerateFunction) -> Callable[..., Any]:
    generate: Any = getattr(provider, "generate", None)
    if callable(generate):
        bound: Callable[..., Any] = generate
        return bound
    if callable(provider):
        return provider
    raise TypeError(
        "llm_provider: expected an object with generate(input, history) or such a function, "
        f"got {type(provider).__name__}"
    )


class LLMProviderAdapter(llm.LLM[Literal["provider_tool_calls"]]):
    """A livekit-agents LLM whose answers come from an ``LLMProvider``."""

    def __init__(
        self, provider: LLMProvider | GenerateFunction, *, model: str = "llm-provider"
    ) -> None:
        super().__init__()
        self._generate = _resolve(provider)
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    @property
    def provider(self) -> str:
        return "omnivoice-llm-provider"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> _ProviderStream:
        return _ProviderStream(
            self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options
        )

    async def generate(self, input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        """Call the wrapped provider and validate its result."""
        result = self._generate(input, history)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            return result, []
        if (
            not isinstance(result, tuple)
            or len(result) != 2
            or not isinstance(result[0], str)
            or not isinstance(result[1], list)
            or not all(isinstance(c, ToolCall) for c in result[1])
        ):
            raise TypeError(
                "LLMProvider.generate must return (text: str, tool_calls: list[ToolCall]), "
                f"got {type(result).__name__}"
            )
        return result[0], result[1]


def history_from_chat_ctx(chat_ctx: llm.ChatContext) -> tuple[str, list[Turn]]:
    """Split a chat context into (last user text, earlier user/agent turns)."""
    turns: list[Turn] = []
    for msg in chat_ctx.messages():
        if msg.role not in ("user", "assistant"):
            continue
        text = msg.text_content or ""
        if not text:
            continue
        turns.append(
            Turn(
                role="user" if msg.role == "user" else "agent",
                text=text,
                timestamp=datetime.fromtimestamp(msg.created_at, UTC),
            )
        )
    if turns and turns[-1].role == "user":
        return turns[-1].text, turns[:-1]
    return "", turns


class _ProviderStream(llm.LLMStream):
    def __init__(
        self,
        adapter: LLMProviderAdapter,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(adapter, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._adapter = adapter

    async def _run(self) -> None:
        request_id = f"llmp_{uuid.uuid4().hex[:16]}"
        user_input, history = history_from_chat_ctx(self._chat_ctx)
        try:
            text, tool_calls = await self._adapter.generate(user_input, history)
        except Exception as exc:  # surfaced to the session as an LLM error, not swallowed
            raise APIConnectionError(
                f"LLMProvider.generate failed: {exc!r}", retryable=False
            ) from exc
        if tool_calls:
            self._adapter.emit(
                "provider_tool_calls",
                ProviderToolCallsEvent(
                    request_id=request_id, input=user_input, tool_calls=tool_calls
                ),
            )
        if text:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=text))
            )
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id=request_id,
                usage=llm.CompletionUsage(
                    completion_tokens=max(1, len(text) // 4) if text else 0,
                    prompt_tokens=max(1, len(user_input) // 4) if user_input else 0,
                    total_tokens=(len(text) + len(user_input)) // 4,
                ),
            )
        )
