"""SIPGatewayOptions validation: outbound rooms in a reserved namespace, intervals and
timeouts positive, an agent name."""

from __future__ import annotations

from typing import Any

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.sip.gateway_options import SIPGatewayOptions

pytestmark = pytest.mark.unit


def test_outbound_rooms_default_to_the_reserved_sip_namespace() -> None:
    assert SIPGatewayOptions().outbound_room_prefix == "sip-out"
    assert SIPGatewayOptions(outbound_room_prefix="call-out").outbound_room_prefix == "call-out"


@pytest.mark.parametrize("prefix", ["twilio-out", "out", "sipout"])
def test_an_outbound_room_prefix_browsers_could_join_is_refused(prefix: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^outbound_room_prefix: rooms of phone calls must start with 'call-' or 'sip-' "
        rf"so that browsers cannot join them \(e\.g\. 'sip-<carrier>-'\), got '{prefix}-'$",
    ):
        SIPGatewayOptions(outbound_room_prefix=prefix)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_interval_s": 0}, "poll_interval_s: must be > 0 s, got 0"),
        ({"ringing_timeout_s": -1}, "ringing_timeout_s: must be > 0 s, got -1"),
        ({"agent_name": " "}, "agent_name: must not be empty"),
    ],
)
def test_other_options_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + message + "$"):
        SIPGatewayOptions(**kwargs)
