"""CallContext: one reading of caller ID for every route, the resume transcript, E.164."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from omnivoice_rtc.agent.call_context import (
    CallContext,
    call_context_for,
    e164,
    resume_transcript_from,
)
from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.types import ParticipantInfo, Turn

pytestmark = pytest.mark.unit


def _participant(
    *,
    room: str,
    kind: str = "standard",
    attributes: dict[str, str] | None = None,
    metadata: str = "",
) -> ParticipantInfo:
    return ParticipantInfo(
        identity="caller-1",
        room_name=room,
        metadata=metadata,
        attributes=attributes or {},
        kind=kind,
    )


@pytest.mark.parametrize("carrier", carrier_names())
def test_every_registered_carrier_is_a_route_of_its_own(carrier: str) -> None:
    """The shim's attributes in a call room: the carrier's name is the route (a carrier added
    to the registry later needs no change here); custom parameters come without prefix."""
    ctx = call_context_for(
        _participant(
            room=f"call-{carrier}-CA1",
            kind="sip",  # the shim's default participant kind
            attributes={
                "carrier": carrier,
                "call_id": "CA1",
                "from": "+15550100",
                "to": "+15550199",
                "direction": "inbound",
                "omnivoice.param.customer": "42",
            },
        )
    )
    assert ctx == CallContext(
        route=carrier,
        direction="inbound",
        caller="+15550100",
        callee="+15550199",
        carrier_call_id="CA1",
        room=f"call-{carrier}-CA1",
        participant_identity="caller-1",
        parameters={"customer": "42"},
    )
    assert ctx.is_phone_call
    assert not ctx.resumed


def test_an_outbound_carrier_call_keeps_from_and_to() -> None:
    ctx = call_context_for(
        _participant(
            room="call-telnyx-v3:abc",
            attributes={
                "carrier": "telnyx",
                "call_id": "v3:abc",
                "from": "+15550199",
                "to": "+15550100",
                "direction": "outbound",
            },
        )
    )
    assert (ctx.route, ctx.direction, ctx.caller, ctx.callee) == (
        "telnyx",
        "outbound",
        "+15550199",
        "+15550100",
    )


def test_inbound_sip_reads_livekit_sips_attributes_and_x_headers() -> None:
    ctx = call_context_for(
        _participant(
            room="sip-twilio-_+15550100999_abc",
            kind="sip",
            attributes={
                "sip.callID": "SCL_1",
                "sip.callIDFull": "abc@10.0.0.1",
                "sip.ruleID": "SDR_1",
                "sip.phoneNumber": "15550100999",
                "sip.trunkPhoneNumber": "+1 (555) 010-0001",
                "sip.h.x-customer-id": "c-9",
                "omnivoice.carrier": "twilio",
                "omnivoice.param.campaign": "spring",
            },
        )
    )
    assert ctx.route == "sip"
    assert ctx.direction == "inbound"
    assert ctx.caller == "+15550100999"
    assert ctx.callee == "+15550100001"
    assert ctx.carrier_call_id == "abc@10.0.0.1"
    assert dict(ctx.parameters) == {"x-customer-id": "c-9", "campaign": "spring"}


def test_outbound_sip_swaps_the_parties_and_prefers_twilios_call_sid() -> None:
    ctx = call_context_for(
        _participant(
            room="sip-out-0123456789ab",
            kind="sip",
            attributes={
                "sip.callID": "SCL_2",
                "sip.phoneNumber": "+15550100",
                "sip.trunkPhoneNumber": "+15550199",
                "sip.twilio.callSid": "CA77",
            },
        )
    )
    assert (ctx.direction, ctx.caller, ctx.callee, ctx.carrier_call_id) == (
        "outbound",
        "+15550199",
        "+15550100",
        "CA77",
    )


def test_a_browser_gets_its_token_metadata_and_never_attributes_for_caller_id() -> None:
    """A browser may set its own attributes: it cannot pose as a carrier call or a phone
    number (the route needs the shim's reserved room and a SIP participant)."""
    forged = {"carrier": "twilio", "from": "+15550100", "sip.phoneNumber": "+15550100"}
    ctx = call_context_for(
        _participant(
            room="web-abc", attributes=forged, metadata=json.dumps({"plan": "gold", "n": 3})
        )
    )
    assert ctx == CallContext(
        route="webrtc",
        room="web-abc",
        participant_identity="caller-1",
        parameters={"plan": "gold", "n": "3"},
    )
    assert not ctx.is_phone_call
    # the shim's attributes outside a call room are no carrier call either
    assert (
        call_context_for(_participant(room="web-x", kind="sip", attributes=forged)).route == "sip"
    )
    unknown = {"carrier": "acme", "from": "+15550100"}
    assert call_context_for(_participant(room="call-acme-1", attributes=unknown)).route == "webrtc"


def test_non_json_metadata_is_one_parameter() -> None:
    ctx = call_context_for(_participant(room="web-1", metadata="vip"))
    assert dict(ctx.parameters) == {"metadata": "vip"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+15550100", "+15550100"),
        ("+1 (555) 010-0100", "+15550100100"),
        ("0044 20 7946 0958", "+442079460958"),
        ("15550100999", "+15550100999"),
        ("sip:+15550100@trunk.example.com;user=phone", "+15550100"),
        ("tel:+15550100", "+15550100"),
        ("5550100", "5550100"),  # too short to be international: kept
        ("client:alice", "client:alice"),
        ("alice", "alice"),
        ("", ""),
    ],
)
def test_e164(raw: str, expected: str) -> None:
    assert e164(raw) == expected


def test_the_resume_transcript_comes_from_the_dispatch_metadata() -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    turns = [
        Turn(role="user", text="I want a pizza", timestamp=at).to_dict(),
        Turn(role="agent", text="Which size?", timestamp=at).to_dict(),
        {"role": "agent", "text": ""},  # empty: skipped
        {"role": 3},  # malformed: skipped
    ]
    metadata = json.dumps({"omnivoice": {"resume": {"transcript": turns}}, "other": 1})
    resumed = resume_transcript_from(metadata)
    assert [(t.role, t.text, t.timestamp) for t in resumed] == [
        ("user", "I want a pizza", at),
        ("agent", "Which size?", at),
    ]
    ctx = call_context_for(_participant(room="web-1"), job_metadata=metadata)
    assert ctx.resumed
    assert ctx.resume_transcript == resumed
    assert ctx.to_dict()["resume_transcript"][0]["text"] == "I want a pizza"


@pytest.mark.parametrize(
    "metadata",
    ["", "not json", "[]", '{"omnivoice": 1}', '{"omnivoice": {"resume": {"transcript": 5}}}'],
)
def test_metadata_without_a_resume_transcript_is_a_new_call(metadata: str) -> None:
    assert resume_transcript_from(metadata) == ()


def test_direction_is_checked_and_parameters_are_read_only() -> None:
    with pytest.raises(ValueError, match="direction"):
        CallContext(route="webrtc", direction="sideways")  # type: ignore[arg-type]  # reason: the check under test
    ctx = CallContext(route="webrtc", parameters={"a": "1"})
    with pytest.raises(TypeError):
        ctx.parameters["a"] = "2"  # type: ignore[index]  # reason: read-only mapping under test
