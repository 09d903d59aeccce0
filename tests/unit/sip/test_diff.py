"""Comparison of file objects with server objects (what makes apply idempotent)."""

from __future__ import annotations

import pytest
from livekit import api

from omnivoice_rtc.sip.provisioning import ApplyResult, ProvisioningError, _comparable, _single

pytestmark = pytest.mark.unit


def test_server_fields_and_empty_submessages_are_ignored() -> None:
    desired = api.SIPDispatchRuleInfo(
        name="r",
        rule=api.SIPDispatchRule(
            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="call")
        ),
        room_config=api.RoomConfiguration(agents=[api.RoomAgentDispatch(agent_name="a")]),
    )
    on_server = api.SIPDispatchRuleInfo()
    on_server.CopyFrom(desired)
    on_server.sip_dispatch_rule_id = "SDR_x"
    on_server.media.SetInParent()  # livekit-server stores `media {}` on create
    assert on_server != desired
    assert _comparable(on_server) == _comparable(desired)


def test_a_changed_field_is_a_difference() -> None:
    desired = api.SIPInboundTrunkInfo(name="i", numbers=["+15105550100"])
    on_server = api.SIPInboundTrunkInfo(
        sip_trunk_id="ST_1", name="i", numbers=["+15105550100"], allowed_addresses=["10.0.0.1"]
    )
    assert _comparable(on_server) != _comparable(desired)
    on_server.ClearField("allowed_addresses")
    assert _comparable(on_server) == _comparable(desired)


def test_comparable_does_not_modify_its_argument() -> None:
    trunk = api.SIPOutboundTrunkInfo(sip_trunk_id="ST_1", name="o", address="x.com")
    _comparable(trunk)
    assert trunk.sip_trunk_id == "ST_1"


def test_two_objects_with_one_name_are_refused() -> None:
    found = [api.SIPInboundTrunkInfo(sip_trunk_id=f"ST_{i}", name="i") for i in (1, 2)]
    with pytest.raises(ProvisioningError) as info:
        _single("inbound_trunk", "i", found, "sip_trunk_id")
    assert str(info.value) == (
        "inbound_trunk i: 2 objects on the server carry this name (ST_1, ST_2); "
        "delete the extra ones with `omnivoice-rtc sip delete`"
    )
    assert _single("inbound_trunk", "i", found[:1], "sip_trunk_id") is found[0]
    assert _single("inbound_trunk", "i", [], "sip_trunk_id") is None


def test_result_line() -> None:
    result = ApplyResult(kind="dispatch_rule", name="r", id="SDR_1", outcome="unchanged")
    assert result.describe() == "dispatch_rule r (SDR_1): unchanged"
