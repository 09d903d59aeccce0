"""DispatchRuleAttributes: an inbound SIP participant read before livekit-sip added its
dispatch rule's attributes gets them from the rule (found by a full run: the call was
taken for carrier ``sip``); the participant's own values win; a rule is read once per TTL;
a rule that cannot be read changes nothing."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from livekit import api

from omnivoice_rtc._clock import VirtualClock
from omnivoice_rtc.sip.rule_attributes import RULE_TTL_S, DispatchRuleAttributes

pytestmark = pytest.mark.unit

RULE = api.SIPDispatchRuleInfo(
    sip_dispatch_rule_id="SDR_e2e",
    name="e2e-dispatch",
    attributes={"omnivoice.carrier": "e2e", "sip.trunkID": "from-the-rule"},
)


class _SipService:
    """What DispatchRuleAttributes calls of LiveKit's SIP service."""

    def __init__(self, *, rules: list[api.SIPDispatchRuleInfo], fail: bool = False) -> None:
        self.rules = rules
        self.fail = fail
        self.requests: list[list[str]] = []

    async def list_sip_dispatch_rule(
        self, request: api.ListSIPDispatchRuleRequest
    ) -> api.ListSIPDispatchRuleResponse:
        self.requests.append(list(request.dispatch_rule_ids))
        if self.fail:
            raise aiohttp.ClientConnectionError("livekit-server unreachable")
        return api.ListSIPDispatchRuleResponse(items=self.rules)


class _LiveKit:
    def __init__(self, sip: _SipService) -> None:
        self.sip = sip


def _caller(**extra: str) -> api.ParticipantInfo:
    attributes = {"sip.ruleID": "SDR_e2e", "sip.trunkID": "ST_1", **extra}
    return api.ParticipantInfo(identity="sip_+15550100999", attributes=attributes)


async def test_the_rules_attributes_fill_in_what_the_participant_lacks() -> None:
    sip = _SipService(rules=[api.SIPDispatchRuleInfo(sip_dispatch_rule_id="SDR_other"), RULE])
    lk: Any = _LiveKit(sip)  # reason: a stand-in for api.LiveKitAPI
    caller = _caller()
    completed = await DispatchRuleAttributes().complete(caller, lk)
    assert completed.attributes["omnivoice.carrier"] == "e2e"
    assert completed.attributes["sip.trunkID"] == "ST_1"  # the participant's own value wins
    assert "omnivoice.carrier" not in caller.attributes  # the original is not changed
    assert sip.requests == [["SDR_e2e"]]


async def test_a_participant_that_has_them_is_handed_back_as_is() -> None:
    lk: Any = _LiveKit(_SipService(rules=[RULE]))  # reason: a stand-in for api.LiveKitAPI
    caller = _caller(**{"omnivoice.carrier": "twilio"})
    assert await DispatchRuleAttributes().complete(caller, lk) is caller


async def test_a_rule_is_read_once_per_ttl() -> None:
    sip = _SipService(rules=[RULE])
    lk: Any = _LiveKit(sip)  # reason: a stand-in for api.LiveKitAPI
    clock = VirtualClock()
    rules = DispatchRuleAttributes(clock=clock)
    await rules.complete(_caller(), lk)
    clock.advance(RULE_TTL_S - 1)
    await rules.complete(_caller(), lk)
    assert len(sip.requests) == 1
    clock.advance(2)
    await rules.complete(_caller(), lk)
    assert len(sip.requests) == 2


async def test_a_rule_that_cannot_be_read_changes_nothing() -> None:
    lk: Any = _LiveKit(_SipService(rules=[RULE], fail=True))  # reason: a stand-in
    caller = _caller()
    assert await DispatchRuleAttributes().complete(caller, lk) is caller


async def test_a_participant_without_a_rule_is_not_looked_up() -> None:
    sip = _SipService(rules=[RULE])
    lk: Any = _LiveKit(sip)  # reason: a stand-in for api.LiveKitAPI
    caller = api.ParticipantInfo(identity="sip_out", attributes={"sip.callID": "SCL_1"})
    assert await DispatchRuleAttributes().complete(caller, lk) is caller
    assert sip.requests == []
