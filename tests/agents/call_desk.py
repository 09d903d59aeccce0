"""A user's agent with the ready-made call-control tools: it transfers callers to
"support", holds, keys digits and ends calls (``omnivoice_rtc.agent.call_tools``)."""

from __future__ import annotations

from omnivoice_rtc import AgentSpec, CallContext, Greeting
from omnivoice_rtc.agent.call_tools import call_control_tools

GREETING = "Front desk. How can I help?"
SUPPORT = "+15550100"
TRANSFER_LINE = "Connecting you to support now."


def build(ctx: CallContext) -> AgentSpec:
    return AgentSpec(
        instructions="You are the front desk. Transfer callers who need help to support.",
        tools=call_control_tools(
            ctx, transfer_targets={"support": SUPPORT}, transfer_line=TRANSFER_LINE
        ),
        greeting=Greeting(inbound=GREETING),
    )
