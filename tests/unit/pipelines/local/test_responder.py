"""The local responder's tool rule: a tool whose name was said is called with the user's
words; its result is then said. The other rules are unchanged."""

from __future__ import annotations

import json

import pytest
from livekit.agents import function_tool, llm

from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM, choose_tool
from omnivoice_rtc.pipelines.realtime import build_function_tools
from omnivoice_rtc.types import FunctionDeclaration

pytestmark = pytest.mark.unit


@function_tool
async def opening_hours() -> str:
    """When we are open."""
    return "We are open from nine to five."


@function_tool
async def take_message(message: str) -> str:
    """Write down a message for the staff."""
    return "I have taken your message."


@function_tool
async def book_table(people: int) -> str:
    """Book a table for a number of people."""
    return "booked"


TOOLS: list[llm.Tool] = [opening_hours, take_message, book_table]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("What are your opening hours", ("opening_hours", {})),
        ("opening hour please", ("opening_hours", {})),  # trailing s ignored
        (
            "Please take a message I will be late",
            ("take_message", {"message": "please take a message i will be late"}),
        ),
        ("book a table for two", None),  # a required int the rules cannot fill
        ("what time is it", None),
        ("", None),
    ],
)
def test_choose_tool(said: str, expected: tuple[str, dict[str, str]] | None) -> None:
    assert choose_tool(said, TOOLS) == expected


def test_raw_schema_tools_from_seed_declarations_are_chosen_too() -> None:
    tools = build_function_tools(
        [
            FunctionDeclaration(
                name="check_order",
                parameters={
                    "type": "object",
                    "properties": {"order": {"type": "string"}},
                    "required": ["order"],
                },
            )
        ],
        lambda *_: "shipped",
    )
    assert choose_tool("check my order", tools) == ("check_order", {"order": "check my order"})


async def _run(chat: llm.ChatContext, tools: list[llm.Tool]) -> list[llm.ChatChunk]:
    stream = RulesResponderLLM().chat(chat_ctx=chat, tools=tools)
    async with stream:
        return [chunk async for chunk in stream]


async def test_the_stream_calls_the_tool_then_says_its_result() -> None:
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="Take a message: call me back")
    chunks = await _run(chat, TOOLS)
    calls = [c for chunk in chunks if chunk.delta for c in chunk.delta.tool_calls]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("take_message", {"message": "take a message call me back"})
    ]
    assert not any(chunk.delta and chunk.delta.content for chunk in chunks)

    chat.items.append(
        llm.FunctionCall(
            call_id=calls[0].call_id, name="take_message", arguments=calls[0].arguments
        )
    )
    chat.items.append(
        llm.FunctionCallOutput(
            call_id=calls[0].call_id,
            name="take_message",
            output=json.dumps("I have taken your message."),
            is_error=False,
        )
    )
    reply = "".join(c.delta.content or "" for c in await _run(chat, TOOLS) if c.delta)
    assert reply == "I have taken your message."


async def test_a_failed_tool_is_reported_and_goodbye_wins_over_tools() -> None:
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="opening hours")
    chat.items.append(
        llm.FunctionCallOutput(call_id="c1", name="opening_hours", output="boom", is_error=True)
    )
    reply = "".join(c.delta.content or "" for c in await _run(chat, TOOLS) if c.delta)
    assert reply == "Sorry, that did not work."
    bye = llm.ChatContext.empty()
    bye.add_message(role="user", content="goodbye and take a message")
    reply = "".join(c.delta.content or "" for c in await _run(bye, TOOLS) if c.delta)
    assert reply == "Goodbye! Thanks for calling."


async def test_without_tools_the_rules_answer_as_before() -> None:
    chat = llm.ChatContext.empty()
    chat.add_message(role="user", content="hello there")
    reply = "".join(c.delta.content or "" for c in await _run(chat, []) if c.delta)
    assert reply == "Hello! You said: hello there."
