"""A user's agent that warm-transfers callers to "support" (``warm_transfer_call`` of
``omnivoice_rtc.agent.call_tools``): it dials the support number through the e2e
outbound trunk, briefs the person and connects the caller. Only that tool is offered,
so the offline pipeline's rules call it when the caller says "warm transfer ... call"."""

from __future__ import annotations

from livekit.agents.llm.tool_context import FunctionTool

from omnivoice_rtc import AgentSpec, CallContext, Greeting
from omnivoice_rtc.agent.call_tools import call_control_tools
from omnivoice_rtc.agent.warm_transfer import WarmTransferOptions

GREETING = "Front desk. How can I help?"
SUPPORT = "+15550100"
OUTBOUND_TRUNK = "e2e-outbound"
TOOL = "warm_transfer_call"
UNAVAILABLE_LINE = "Sorry, support did not answer. I am back with you."


def build(ctx: CallContext) -> AgentSpec:
    tools = call_control_tools(
        ctx,
        transfer_targets={"support": SUPPORT},
        warm_transfer=WarmTransferOptions(
            outbound_trunk=OUTBOUND_TRUNK, ring_timeout_s=20, unavailable_line=UNAVAILABLE_LINE
        ),
    )
    return AgentSpec(
        instructions="You are the front desk. Warm-transfer callers who need help to support.",
        tools=[t for t in tools if isinstance(t, FunctionTool) and t.info.name == TOOL],
        greeting=Greeting(inbound=GREETING),
    )
