"""The local pipeline's "LLM": a deterministic rules-then-echo responder.

:func:`respond` maps the user's last utterance to a reply; :class:`RulesResponderLLM`
exposes it as a livekit-agents ``llm.LLM`` so the stock AgentSession drives it.

Rules, first match wins (matching is on lower-cased words):

1. nothing recognised          -> "Sorry, I did not catch that."
2. "goodbye" / "bye"          -> "Goodbye! Thanks for calling."
3. "story"                     -> a ~15 s story (handy to try barge-in: talk over it)
4. "time"                      -> "It is HH:MM UTC."
5. "hello" / "hi" / "hey"     -> "Hello! You said: <words>."
6. anything else (echo)        -> "You said: <words>."
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Never

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

__all__ = ["STORY", "RulesResponderLLM", "respond"]

STORY = (
    "Once upon a time, a small robot lived in a lighthouse by the sea. "
    "Every night it counted the ships that passed, one by one, and wrote their names "
    "in a little blue book. One stormy evening a ship lost its way in the fog, "
    "so the robot climbed to the top of the tower and sang as loud as it could "
    "until the sailors found the harbour. Since then, every ship that passes "
    "blows its horn twice to say thank you."
)

_WORD = re.compile(r"[a-z0-9']+")


def respond(user_text: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """The reply to ``user_text`` (see the module docstring for the rules)."""
    words = _WORD.findall(user_text.lower())
    said = " ".join(words)
    if not words:
        return "Sorry, I did not catch that."
    if "goodbye" in words or "bye" in words:
        return "Goodbye! Thanks for calling."
    if "story" in words:
        return STORY
    if "time" in words:
        return f"It is {now():%H:%M} UTC."
    if {"hello", "hi", "hey"} & set(words):
        return f"Hello! You said: {said}."
    return f"You said: {said}."


def _last_user_text(chat_ctx: llm.ChatContext) -> str:
    for item in reversed(chat_ctx.items):
        if isinstance(item, llm.ChatMessage) and item.role == "user":
            return item.text_content or ""
    return ""


class RulesResponderLLM(llm.LLM[Never]):
    """livekit-agents LLM that answers with :func:`respond`; never calls tools."""

    def __init__(self, *, responder: Callable[[str], str] = respond) -> None:
        super().__init__()
        self._responder = responder

    @property
    def model(self) -> str:
        return "rules-echo"

    @property
    def provider(self) -> str:
        return "omnivoice-local"

    def chat(
        self,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        parallel_tool_calls: NotGivenOr[bool] = NOT_GIVEN,
        tool_choice: NotGivenOr[llm.ToolChoice] = NOT_GIVEN,
        extra_kwargs: NotGivenOr[dict[str, Any]] = NOT_GIVEN,
    ) -> llm.LLMStream:
        return _RulesStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)

    def reply_to(self, user_text: str) -> str:
        return self._responder(user_text)


class _RulesStream(llm.LLMStream):
    def __init__(
        self,
        responder: RulesResponderLLM,
        *,
        chat_ctx: llm.ChatContext,
        tools: list[llm.Tool],
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(responder, chat_ctx=chat_ctx, tools=tools, conn_options=conn_options)
        self._responder = responder

    async def _run(self) -> None:
        reply = self._responder.reply_to(_last_user_text(self._chat_ctx))
        request_id = utils.shortuuid("rules_")
        # one chunk per sentence-ish piece, as a streaming model would send them
        for piece in re.findall(r"[^.!?]+[.!?]*\s*", reply) or [reply]:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=piece))
            )
