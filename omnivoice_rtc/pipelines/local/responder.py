"""The local pipeline's "LLM": a deterministic rules-then-echo responder.

:func:`respond` maps the user's last utterance to a reply; :class:`RulesResponderLLM`
exposes it as a livekit-agents ``llm.LLM`` so the stock AgentSession drives it.

Rules, first match wins (matching is on lower-cased words):

1. nothing recognised          -> "Sorry, I did not catch that."
2. "goodbye" / "bye"          -> "Goodbye! Thanks for calling."
3. a tool's name               -> call that tool (see below)
4. "story"                     -> a ~15 s story (handy to try barge-in: talk over it)
5. "time"                      -> "It is HH:MM UTC."
6. "hello" / "hi" / "hey"     -> "Hello! You said: <words>."
7. anything else (echo)        -> "You said: <words>."

Tools (rule 3): when the agent offers function tools, the first one whose name's words
(``opening_hours`` -> "opening", "hours"; a trailing "s" is ignored, so "hour" matches
too) were all said is called. Its arguments: every string parameter gets the user's
words (a ``take_message(message: str)`` gets what the caller said); a tool with a
required parameter of another type is never chosen. Once the tool's result is back the
agent says it (a string as is; an error as "Sorry, that did not work."). This makes the
offline pipeline exercise the same tool path (``function_tools_executed``, ``tool_call``
events, ``Metrics.tool_call_count``) as a real model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Never

from livekit.agents import APIConnectOptions, llm, utils
from livekit.agents.llm.tool_context import (
    get_raw_function_info,
    is_function_tool,
    is_raw_function_tool,
)
from livekit.agents.llm.utils import function_arguments_to_pydantic_model
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

__all__ = ["STORY", "RulesResponderLLM", "ToolChoice", "choose_tool", "respond"]

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


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _schema_of(tool: llm.Tool) -> tuple[str, dict[str, Any]] | None:
    """(name, JSON schema of its parameters) of a function tool; None for other tools."""
    if is_raw_function_tool(tool):
        info = get_raw_function_info(tool)
        params = info.raw_schema.get("parameters") or {}
        return info.name, params if isinstance(params, dict) else {}
    if is_function_tool(tool):
        model = function_arguments_to_pydantic_model(tool)
        return tool.info.name, model.model_json_schema()
    return None


ToolChoice = tuple[str, dict[str, Any]]
"""(tool name, arguments) the rules chose."""


def choose_tool(user_text: str, tools: Sequence[llm.Tool]) -> ToolChoice | None:
    """The tool rule (rule 3 of the module docstring): the first tool whose name's words
    were all said, with every string parameter set to the user's words."""
    said = {_stem(w) for w in _WORD.findall(user_text.lower())}
    if not said:
        return None
    for tool in tools:
        described = _schema_of(tool)
        if described is None:
            continue
        name, schema = described
        name_words = {_stem(w) for w in re.split(r"[^a-z0-9]+", name.lower()) if w}
        if not name_words or not name_words <= said:
            continue
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        strings = {
            k for k, v in properties.items() if isinstance(v, dict) and v.get("type") == "string"
        }
        if required - strings:
            continue  # a required number/object the rules cannot fill
        words = " ".join(_WORD.findall(user_text.lower()))
        return name, {k: words for k in sorted(strings)}
    return None


def _tool_result(chat_ctx: llm.ChatContext) -> llm.FunctionCallOutput | None:
    """The output of the tool the rules just called (the last item), if any."""
    items = chat_ctx.items
    last = items[-1] if items else None
    return last if isinstance(last, llm.FunctionCallOutput) else None


def _say_result(output: llm.FunctionCallOutput) -> str:
    if output.is_error:
        return "Sorry, that did not work."
    text = output.output.strip()
    try:
        value = json.loads(text)
    except ValueError:
        return text or "Done."
    return value if isinstance(value, str) and value else text or "Done."


def _is_goodbye(user_text: str) -> bool:
    words = set(_WORD.findall(user_text.lower()))
    return bool(words & {"goodbye", "bye"})


class RulesResponderLLM(llm.LLM[Never]):
    """livekit-agents LLM that answers with :func:`respond`, or calls an offered tool
    (:func:`choose_tool`) and then says its result."""

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
        request_id = utils.shortuuid("rules_")
        result = _tool_result(self._chat_ctx)
        if result is not None:
            reply = _say_result(result)
        else:
            user_text = _last_user_text(self._chat_ctx)
            choice = choose_tool(user_text, self._tools) if user_text.strip() else None
            if choice is not None and not _is_goodbye(user_text):
                name, arguments = choice
                call = llm.FunctionToolCall(
                    name=name,
                    arguments=json.dumps(arguments),
                    call_id=utils.shortuuid("rules_call_"),
                )
                self._event_ch.send_nowait(
                    llm.ChatChunk(
                        id=request_id, delta=llm.ChoiceDelta(role="assistant", tool_calls=[call])
                    )
                )
                return
            reply = self._responder.reply_to(user_text)
        # one chunk per sentence-ish piece, as a streaming model would send them
        for piece in re.findall(r"[^.!?]+[.!?]*\s*", reply) or [reply]:
            self._event_ch.send_nowait(
                llm.ChatChunk(id=request_id, delta=llm.ChoiceDelta(role="assistant", content=piece))
            )
