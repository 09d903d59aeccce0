"""Call-control values: transfer targets, digits, reasons, capabilities."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import UnsupportedActionError
from omnivoice_rtc.calls.control import (
    CallAction,
    Capabilities,
    check_digits,
    check_reason,
    parse_transfer_target,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "kind", "value", "uri"),
    [
        ("+15550100", "number", "+15550100", "tel:+15550100"),
        (" tel:+447700900000 ", "number", "+447700900000", "tel:+447700900000"),
        ("sip:alice@pbx.example.com", "sip", "sip:alice@pbx.example.com", ""),
        ("sips:desk@example.com;transport=tls", "sip", "sips:desk@example.com;transport=tls", ""),
    ],
)
def test_transfer_targets(text: str, kind: str, value: str, uri: str) -> None:
    target = parse_transfer_target(text)
    assert (target.kind, target.value) == (kind, value)
    assert target.sip_uri == (uri or value)


@pytest.mark.parametrize(
    "text", ["", "5550100", "+0123456", "http://x", "sip:", "sip:a b@c", "+1" + "5" * 20]
)
def test_bad_transfer_targets(text: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        parse_transfer_target(text)


def test_digits_and_reasons() -> None:
    assert check_digits("12*#ab") == "12*#AB"
    for bad in ("", "12x", "1" * 65, "1 2"):
        with pytest.raises(ValueError, match="dtmf"):
            check_digits(bad)
    assert check_reason("caller_asked") == "caller_asked"
    for bad in ("", "a b", "x" * 65, "é"):
        with pytest.raises(ValueError, match="reason"):
            check_reason(bad)


def test_capabilities_say_why() -> None:
    caps = Capabilities.of("exotel", {CallAction.TRANSFER: "no REST transfer"})
    assert caps.supported == {"hold", "resume", "dtmf", "hangup", "warm_transfer"}
    assert caps.supports("hold")
    assert not caps.supports("transfer")
    caps.require("dtmf")
    with pytest.raises(UnsupportedActionError) as info:
        caps.require("transfer")
    assert str(info.value) == "exotel: transfer is not supported: no REST transfer"
    assert (info.value.action, info.value.route) == ("transfer", "exotel")
    with pytest.raises(UnsupportedActionError, match="unknown call action"):
        caps.require("teleport")
    assert caps.to_dict() == {
        "route": "exotel",
        "supported": ["dtmf", "hangup", "hold", "resume", "warm_transfer"],
        "unsupported": {"transfer": "no REST transfer"},
    }
    assert Capabilities.of("sip").supported == {a.value for a in CallAction}
