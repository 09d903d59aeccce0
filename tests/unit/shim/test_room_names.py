"""Room names, identities and DTMF codes derived from calls."""

from __future__ import annotations

import pytest

from omnivoice_rtc.shim.rtc_call_room import call_participant_identity, call_room_name, dtmf_code

pytestmark = pytest.mark.unit


def test_room_name_and_identity_are_sanitised() -> None:
    assert call_room_name("telnyx", "v3:abc/def") == "call-telnyx-v3-abc-def"
    assert call_participant_identity("twilio", "CA123") == "pstn-twilio-CA123"
    assert len(call_room_name("plivo", "x" * 500)) == len("call-plivo-") + 64


def test_unusable_call_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="call id ':::' has no usable characters"):
        call_room_name("twilio", ":::")


@pytest.mark.parametrize(
    ("digit", "code"), [("0", 0), ("9", 9), ("*", 10), ("#", 11), ("A", 12), ("d", 15)]
)
def test_dtmf_codes_follow_rfc4733(digit: str, code: int) -> None:
    assert dtmf_code(digit) == code


def test_invalid_dtmf_digit() -> None:
    with pytest.raises(ValueError, match="invalid DTMF digit 'x'"):
        dtmf_code("x")
