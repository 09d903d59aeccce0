"""One-time stream tokens: single use, expiry, carrier binding, bounded size."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.carriers.stream_tokens import StreamTokenError, StreamTokenStore

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reason(store: StreamTokenStore, token: str | None, carrier: str = "twilio") -> str:
    with pytest.raises(StreamTokenError) as info:
        store.redeem(token, carrier)
    return info.value.reason


def test_issue_and_redeem_once() -> None:
    store = StreamTokenStore()
    token = store.issue("CA1", "twilio", context={"from": "+15550100"})
    assert len(token) == 32
    assert token.isalnum()
    grant = store.redeem(token, "twilio")
    assert (grant.call_id, grant.carrier, dict(grant.context)) == (
        "CA1",
        "twilio",
        {"from": "+15550100"},
    )
    assert _reason(store, token) == "used"


def test_unknown_missing_and_wrong_carrier() -> None:
    store = StreamTokenStore()
    assert _reason(store, "deadbeef") == "unknown"
    assert _reason(store, None) == "missing"
    assert _reason(store, "") == "missing"
    token = store.issue("call-1", "plivo")
    assert _reason(store, token, "vonage") == "wrong_carrier"
    assert _reason(store, token, "plivo") == "used"  # burnt by the wrong-carrier attempt


def test_expiry() -> None:
    clock = FakeClock()
    store = StreamTokenStore(ttl_s=30, clock=clock)
    token = store.issue("CA1", "telnyx")
    clock.now += 29.9
    fresh = store.issue("CA2", "telnyx")
    assert store.redeem(fresh, "telnyx").call_id == "CA2"
    clock.now += 0.2  # first token is now 30.1 s old
    assert _reason(store, token, "telnyx") == "expired"
    assert _reason(store, token, "telnyx") == "unknown"


def test_bounded_size_evicts_oldest() -> None:
    store = StreamTokenStore(max_tokens=3)
    tokens = [store.issue(f"c{i}", "twilio") for i in range(5)]
    assert len(store) == 3
    assert _reason(store, tokens[0]) == "unknown"
    assert store.redeem(tokens[4], "twilio").call_id == "c4"


def test_errors_are_signature_errors_and_args_checked() -> None:
    assert issubclass(StreamTokenError, SignatureError)
    with pytest.raises(ValueError, match=r"^stream token: unknown carrier 'sip'$"):
        StreamTokenStore().issue("c", "sip")
    assert StreamTokenStore().issue("c", "exotel")  # every registered carrier is valid
    with pytest.raises(ValueError, match=r"^stream token: call_id must not be empty$"):
        StreamTokenStore().issue("", "twilio")
