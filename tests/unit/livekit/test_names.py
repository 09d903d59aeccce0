"""Room names the project creates, and the reserved prefixes derived from them."""

from __future__ import annotations

import json
import re

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.livekit.names import (
    CALL_ROOM_PREFIX,
    RESERVED_ROOM_PREFIXES,
    SIP_OUTBOUND_ROOM_PREFIX,
    SIP_ROOM_PREFIX,
    call_participant_identity,
    call_room_name,
    is_reserved_room_name,
    require_reserved_room_prefix,
    sip_dispatch_room_prefix,
    sip_outbound_room_name,
)
from omnivoice_rtc.sip.sip_gateway import SIPGatewayOptions
from tests.conftest import ROOT

pytestmark = pytest.mark.unit

SIP_FILES = sorted((ROOT / "sip").glob("*.json"))


def dispatch_room_prefixes() -> dict[str, str]:
    """``room_prefix`` of every sip/*.json dispatch rule, by file name."""
    prefixes: dict[str, str] = {}
    for path in SIP_FILES:
        rule = json.loads(path.read_text(encoding="utf-8"))["dispatch_rule"]["rule"]
        prefixes[path.name] = rule["dispatch_rule_individual"]["room_prefix"]
    return prefixes


def test_reserved_prefixes_are_the_namespaces_rooms_are_created_under() -> None:
    assert RESERVED_ROOM_PREFIXES == (CALL_ROOM_PREFIX, SIP_ROOM_PREFIX) == ("call-", "sip-")


def test_every_room_the_project_creates_is_reserved() -> None:
    created = {
        "shim call room": call_room_name("twilio", "CA123"),
        "outbound sip room": sip_outbound_room_name(),
        "outbound sip room (gateway default)": sip_outbound_room_name(
            SIPGatewayOptions().outbound_room_prefix
        ),
        **{f"{name} rule": prefix for name, prefix in dispatch_room_prefixes().items()},
    }
    assert len(created) == 3 + len(SIP_FILES)
    assert {what: is_reserved_room_name(room) for what, room in created.items()} == {
        what: True for what in created
    }


def test_carrier_rule_prefixes_follow_the_sip_namespace() -> None:
    assert dispatch_room_prefixes() == {
        f"{carrier}.json": sip_dispatch_room_prefix(carrier)
        for carrier in ("plivo", "telnyx", "twilio", "vonage")
    }
    assert sip_dispatch_room_prefix("twilio") == "sip-twilio-"
    # livekit-sip appends _<caller>_<random>; the room stays in the namespace
    assert is_reserved_room_name(sip_dispatch_room_prefix("twilio") + "_+15105550100_Ab3")


def test_outbound_room_names_are_fresh_and_shaped() -> None:
    first, second = sip_outbound_room_name(), sip_outbound_room_name()
    assert first != second
    assert re.fullmatch(r"sip-out-[0-9a-f]{12}", first)
    assert SIP_OUTBOUND_ROOM_PREFIX == "sip-out"
    assert re.fullmatch(r"sip-acme-[0-9a-f]{12}", sip_outbound_room_name("sip-acme"))


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("call-twilio-CA1", True),
        ("CALL-x", True),
        ("sip-out-abc", True),
        ("Sip-twilio-", True),
        ("twilio-call_+1555_x", False),
        ("web-abc", False),
        ("callroom", False),
        ("sipx", False),
        ("", False),
    ],
)
def test_reserved_is_a_case_insensitive_prefix_match(name: str, reserved: bool) -> None:
    assert is_reserved_room_name(name) is reserved


def test_an_unreserved_prefix_is_refused_naming_the_setting() -> None:
    assert require_reserved_room_prefix("sip-x-", argument="p") == "sip-x-"
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "outbound_room_prefix: rooms of phone calls must start with 'call-' or 'sip-' so "
            "that browsers cannot join them (e.g. 'sip-<carrier>-'), got 'out-'"
        ),
    ):
        sip_outbound_room_name("out")


def test_call_room_names_and_identities_are_sanitised() -> None:
    assert call_room_name("telnyx", "v3:abc/def") == "call-telnyx-v3-abc-def"
    assert call_participant_identity("twilio", "CA123") == "pstn-twilio-CA123"
    assert len(call_room_name("plivo", "x" * 500)) == len("call-plivo-") + 64
    assert sip_dispatch_room_prefix("a b") == "sip-a-b-"
    with pytest.raises(ValueError, match="call id ':::' has no usable characters"):
        call_room_name("twilio", ":::")
