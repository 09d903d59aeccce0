"""Which LiveKit participants are live phone calls, and what the CLI shows of them."""

from __future__ import annotations

import pytest
from livekit import api

from omnivoice_rtc.calls.live_calls import LiveCall, _live_call, find_call

pytestmark = pytest.mark.unit


def _participant(
    identity: str, kind: api.ParticipantInfo.Kind, attributes: dict[str, str]
) -> api.ParticipantInfo:
    p = api.ParticipantInfo(identity=identity, joined_at_ms=1_800_000_000_000)
    p.kind = kind
    p.attributes.update(attributes)
    return p


def test_a_sip_caller_a_carrier_caller_and_nobody_else() -> None:
    sip = _live_call(
        "sip-e2e-1",
        _participant(
            "sip_+15550100999",
            api.ParticipantInfo.Kind.SIP,
            {
                "sip.callID": "SCL_1",
                "sip.callIDFull": "abc@10.0.0.1",
                "sip.phoneNumber": "+15550100999",
                "sip.trunkPhoneNumber": "+15550100001",
                "sip.ruleID": "SDR_1",
            },
        ),
    )
    assert isinstance(sip, LiveCall)
    assert sip.to_dict() == {
        "id": "SCL_1",
        "route": "sip",
        "room": "sip-e2e-1",
        "participant": "sip_+15550100999",
        "carrier_call_id": "abc@10.0.0.1",
        "caller": "+15550100999",
        "callee": "+15550100001",
        "direction": "inbound",
        "started": "2027-01-15T08:00:00+00:00",
    }
    carrier = _live_call(
        "call-twilio-CA1",
        _participant(
            "pstn-twilio-CA1",
            api.ParticipantInfo.Kind.SIP,
            {"carrier": "twilio", "call_id": "CA1", "from": "+15550001", "to": "+15550002"},
        ),
    )
    assert carrier is not None
    assert (carrier.id, carrier.route, carrier.caller) == ("CA1", "twilio", "+15550001")
    # an agent, a browser, and a forged carrier attribute outside a call room: no calls
    assert (
        _live_call("call-twilio-CA1", _participant("agent-1", api.ParticipantInfo.Kind.AGENT, {}))
        is None
    )
    assert _live_call("web-1", _participant("web-x", api.ParticipantInfo.Kind.STANDARD, {})) is None
    forged = {"carrier": "twilio", "call_id": "CA9"}
    assert (
        _live_call("web-1", _participant("web-y", api.ParticipantInfo.Kind.STANDARD, forged))
        is None
    )
    assert find_call([sip, carrier], "call-twilio-CA1") is carrier
    assert find_call([sip, carrier], "abc@10.0.0.1") is sip
    assert find_call([sip, carrier], "nope") is None
