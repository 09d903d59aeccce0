"""apply_file refuses a dispatch rule browsers could join, and an inbound trunk anyone may
call, before it sends anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.sip.provisioning import apply_file
from omnivoice_rtc.sip.sipfile import SIPFile

pytestmark = pytest.mark.unit


async def test_unreserved_rule_rooms_are_refused_before_any_request() -> None:
    rule = api.SIPDispatchRuleInfo(
        name="twilio-dispatch",
        rule=api.SIPDispatchRule(
            dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="twilio-call")
        ),
    )
    sip_file = SIPFile(
        path=Path("sip/twilio.json"),
        inbound_trunk=api.SIPInboundTrunkInfo(name="twilio-inbound"),
        dispatch_rule=rule,
    )
    # Nothing listens on port 9: any request would fail with a connection error instead.
    client = api.LiveKitAPI(url="http://127.0.0.1:9", api_key="k", api_secret="s" * 32)
    try:
        with pytest.raises(
            ConfigError,
            match=r"^sip/twilio\.json: field 'dispatch_rule\.rule\.dispatch_rule_individual\."
            r"room_prefix': rooms of phone calls must start with 'call-' or 'sip-' so that "
            r"browsers cannot join them \(e\.g\. 'sip-<carrier>-'\), got 'twilio-call'$",
        ):
            await apply_file(sip_file, client=client)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "trunk",
    [
        api.SIPInboundTrunkInfo(name="twilio-inbound", numbers=["+15105550100"]),
        api.SIPInboundTrunkInfo(name="twilio-inbound", auth_username="only-a-user"),
    ],
)
async def test_an_open_inbound_trunk_is_refused_before_any_request(
    trunk: api.SIPInboundTrunkInfo,
) -> None:
    sip_file = SIPFile(path=Path("sip/twilio.json"), inbound_trunk=trunk)
    client = api.LiveKitAPI(url="http://127.0.0.1:9", api_key="k", api_secret="s" * 32)
    try:
        with pytest.raises(
            ConfigError,
            match=r"^sip/twilio\.json: field 'inbound_trunk\.allowed_addresses': an inbound "
            r"trunk needs allowed_addresses .* or auth_username/auth_password: without either, "
            r"any address that knows the number gets an agent",
        ):
            await apply_file(sip_file, client=client)
    finally:
        await client.aclose()
