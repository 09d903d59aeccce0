"""The call-control tool set: only on phone calls, transfer targets by name, reasons."""

from __future__ import annotations

import pytest
from livekit.agents.llm import FunctionTool

from omnivoice_rtc.agent.call_context import CallContext
from omnivoice_rtc.agent.call_tools import CallControlTools, _reason, call_control_tools
from omnivoice_rtc.agent.warm_transfer import WarmTransferOptions

pytestmark = pytest.mark.unit


def _ctx(route: str) -> CallContext:
    return CallContext(route=route, room="r", participant_identity="p")


def test_a_browser_call_gets_no_tools_a_phone_call_all_four() -> None:
    assert call_control_tools(_ctx("webrtc")) == []
    tools = call_control_tools(_ctx("twilio"), transfer_targets={"sales": "+15550100"})
    names = [tool.info.name for tool in tools if isinstance(tool, FunctionTool)]
    assert names == ["transfer_call", "hold_call", "send_dtmf", "end_call"]


def test_transfer_targets_by_name_or_any_when_allowed() -> None:
    tools = CallControlTools(ctx=_ctx("sip"), transfer_targets={"Sales": "tel:+15550100"})
    assert tools._resolve("sales") == "+15550100"
    assert tools._resolve("put me through to SALES please") == "+15550100"
    assert tools._resolve("+15550199") is None  # not a listed target
    assert tools._resolve("wholesales") is None
    open_ = CallControlTools(ctx=_ctx("sip"), allow_any_target=True)
    assert open_._resolve("sip:desk@pbx.example.com") == "sip:desk@pbx.example.com"
    assert open_._resolve("nowhere") is None
    with pytest.raises(ValueError, match="transfer target"):
        CallControlTools(ctx=_ctx("sip"), transfer_targets={"bad": "12"})


def test_reasons_from_the_model_become_end_reasons() -> None:
    assert _reason("caller asked") == "caller_asked"
    assert _reason("  ") == "agent_hangup"
    assert _reason("x" * 100) == "x" * 64


def test_warm_transfer_call_only_with_its_options_on_sip_calls() -> None:
    options = WarmTransferOptions(outbound_trunk="desk-out")
    sip = call_control_tools(
        _ctx("sip"), transfer_targets={"sales": "+15550100"}, warm_transfer=options
    )
    names = [tool.info.name for tool in sip if isinstance(tool, FunctionTool)]
    assert names == ["warm_transfer_call", "transfer_call", "hold_call", "send_dtmf", "end_call"]
    without = call_control_tools(_ctx("sip"))
    assert "warm_transfer_call" not in [t.info.name for t in without if isinstance(t, FunctionTool)]
    carrier = call_control_tools(_ctx("twilio"), warm_transfer=options)  # unsupported there
    assert "warm_transfer_call" not in [t.info.name for t in carrier if isinstance(t, FunctionTool)]
