"""A user's agent: a greeting and one tool, nothing else (the "Done when" module).

It runs unchanged for a browser, an inbound SIP call and a carrier call. Its factory
writes the :class:`CallContext` it was given to ``<tempdir>/omnivoice-call-contexts/<room>.json``
so a test can check what it saw.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from livekit.agents import function_tool

from omnivoice_rtc import AgentSpec, CallContext, Greeting

GREETING = "Welcome to Pizza Planet. What would you like?"
OUTBOUND_GREETING = "Hello, this is Pizza Planet calling about your order."
TOOL_RESULT = "Your pizza is on its way."
REPORT_DIR = Path(tempfile.gettempdir()) / "omnivoice-call-contexts"


def says_tool_result(text: str, *, interrupted: bool) -> bool:
    """An agent turn that says the tool's result: whole, or its start when the caller cut
    in (a stall on the caller's audio path can split the order sentence, and its tail
    barges in on the answer)."""
    if interrupted:
        return bool(text) and TOOL_RESULT.startswith(text)
    return text == TOOL_RESULT


def report_path(room: str) -> Path:
    """Where the factory writes the CallContext of a call in ``room``."""
    return REPORT_DIR / f"{room}.json"


@function_tool
async def order(details: str) -> str:
    """Order a pizza. Pass what the caller asked for."""
    return TOOL_RESULT


def build(ctx: CallContext) -> AgentSpec:
    REPORT_DIR.mkdir(exist_ok=True)
    report_path(ctx.room).write_text(json.dumps(ctx.to_dict()), encoding="utf-8")
    return AgentSpec(
        instructions="You take pizza orders for Pizza Planet.",
        tools=[order],
        greeting=Greeting(inbound=GREETING, outbound=OUTBOUND_GREETING),
    )
