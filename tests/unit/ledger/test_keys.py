"""Which call a fact belongs to, and the route, carrier and parties a participant's
attributes say."""

from __future__ import annotations

import pytest

from omnivoice_rtc.ledger.keys import call_key, classify, ended_by_for
from omnivoice_rtc.livekit.names import call_participant_identity, call_room_name

pytestmark = pytest.mark.unit


def test_call_key_is_stable_and_distinct() -> None:
    assert call_key("web-1", "visitor-a") == call_key("web-1", "visitor-a")
    assert call_key("web-1", "visitor-a") != call_key("web-1", "visitor-b")
    assert call_key("web-1a", "b") != call_key("web-1", "ab")  # no ambiguity in the join
    assert call_key("r", "p").startswith("call_")
    assert len(call_key("r", "p")) == len("call_") + 24


def test_a_shim_caller_is_a_media_stream_call() -> None:
    room, identity = call_room_name("twilio", "CA1"), call_participant_identity("twilio", "CA1")
    attributes = {
        "carrier": "twilio",
        "call_id": "CA1",
        "from": "+1555",
        "to": "+1666",
        "direction": "outbound",
    }
    parties = classify(room, attributes, sip_kind=True)  # the shim joins as kind sip
    assert (parties.route, parties.carrier, parties.carrier_call_id) == (
        "media_stream",
        "twilio",
        "CA1",
    )
    assert (parties.caller, parties.callee, parties.direction) == ("+1555", "+1666", "outbound")
    assert identity  # the shim's identity is the call's other half of the key


def test_a_livekit_sip_caller() -> None:
    attributes = {
        "sip.phoneNumber": "+1555",
        "sip.trunkPhoneNumber": "+1999",
        "sip.callID": "SCL_1",
        "sip.ruleID": "SDR_1",
        "omnivoice.carrier": "telnyx",
    }
    inbound = classify("sip-telnyx-_+1555_abc", attributes, sip_kind=True)
    assert (inbound.route, inbound.carrier, inbound.sip_call_id) == ("sip", "telnyx", "SCL_1")
    assert (inbound.direction, inbound.caller, inbound.callee) == ("inbound", "+1555", "+1999")
    outbound = classify(
        "sip-out-1234", {"sip.phoneNumber": "+1555", "sip.trunkPhoneNumber": "+1999"}, sip_kind=True
    )
    assert (outbound.direction, outbound.caller, outbound.callee, outbound.carrier) == (
        "outbound",
        "+1999",
        "+1555",
        "sip",
    )


def test_anyone_else_is_a_browser() -> None:
    assert classify("web-abc", {}, sip_kind=False).route == "browser"
    assert (
        classify("my-room", {"carrier": "x"}, sip_kind=False).route == "browser"
    )  # not a call- room


@pytest.mark.parametrize(
    ("reason", "who"),
    [
        ("carrier_stop", "caller"),
        ("participant_disconnected", "caller"),
        ("agent_left", "agent"),
        ("max_duration", "agent"),
        ("session_closed", "api"),
        ("policy_frame_too_big", "system"),
        ("room_finished", "system"),
        ("something_new", "unknown"),
    ],
)
def test_who_ended_the_call(reason: str, who: str) -> None:
    assert ended_by_for(reason) == who
