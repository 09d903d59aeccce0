"""One-time stream tokens: single use, expiry, carrier binding, bounded without eviction."""

from __future__ import annotations

import asyncio

import pytest

from omnivoice_rtc._errors import LimitError, SignatureError
from omnivoice_rtc.carriers.stream_tokens import StreamTokenError, StreamTokenStore
from omnivoice_rtc.state import MemoryStateStore

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _reason(store: StreamTokenStore, token: str | None, carrier: str = "twilio") -> str:
    with pytest.raises(StreamTokenError) as info:
        await store.redeem(token, carrier)
    return info.value.reason


async def test_issue_and_redeem_once() -> None:
    store = StreamTokenStore()
    token = await store.issue("CA1", "twilio", context={"from": "+15550100"})
    assert len(token) == 32
    assert token.isalnum()
    grant = await store.redeem(token, "twilio")
    assert (grant.call_id, grant.carrier, dict(grant.context)) == (
        "CA1",
        "twilio",
        {"from": "+15550100"},
    )
    assert await _reason(store, token) == "used"


async def test_two_streams_racing_for_one_token_one_wins() -> None:
    store = StreamTokenStore()
    token = await store.issue("CA1", "twilio")
    results = await asyncio.gather(
        *(store.redeem(token, "twilio") for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert {r.reason for r in results if isinstance(r, StreamTokenError)} == {"used"}


async def test_unknown_missing_and_wrong_carrier() -> None:
    store = StreamTokenStore()
    assert await _reason(store, "deadbeef") == "unknown"
    assert await _reason(store, "0" * 32) == "unknown"
    assert await _reason(store, None) == "missing"
    assert await _reason(store, "") == "missing"
    token = await store.issue("call-1", "plivo")
    assert await _reason(store, token, "vonage") == "wrong_carrier"
    assert await _reason(store, token, "plivo") == "used"  # burnt by the wrong-carrier attempt


async def test_expiry() -> None:
    clock = FakeClock()
    store = StreamTokenStore(store=MemoryStateStore(clock=clock), ttl_s=30, clock=clock)
    token = await store.issue("CA1", "telnyx")
    clock.now += 29.9
    fresh = await store.issue("CA2", "telnyx")
    assert (await store.redeem(fresh, "telnyx")).call_id == "CA2"
    clock.now += 0.2  # first token is now 30.1 s old
    assert await _reason(store, token, "telnyx") == "expired"
    assert await _reason(store, token, "telnyx") == "unknown"


async def test_full_store_refuses_new_tokens_and_keeps_the_pending_ones() -> None:
    store = StreamTokenStore(max_tokens=3)
    tokens = [await store.issue(f"c{i}", "twilio", source=f"acct{i}") for i in range(3)]
    for i in range(3, 5):
        with pytest.raises(LimitError, match=r"^stream tokens: 3 pending") as info:
            await store.issue(f"c{i}", "twilio", source=f"acct{i}")
        assert info.value.limit == "pending_streams"
    assert await store.pending() == 3
    assert [(await store.redeem(t, "twilio")).call_id for t in tokens] == ["c0", "c1", "c2"]
    assert await store.pending() == 0
    assert await store.issue("c5", "twilio")  # redeemed tokens gave their slots back


async def test_one_source_cannot_take_every_slot() -> None:
    clock = FakeClock()
    store = StreamTokenStore(
        store=MemoryStateStore(clock=clock), max_tokens=100, max_pending_per_source=2, clock=clock
    )
    flood = [await store.issue(f"f{i}", "twilio", source="198.51.100.7") for i in range(2)]
    with pytest.raises(LimitError, match=r"2 pending for this source") as info:
        await store.issue("f2", "twilio", source="198.51.100.7")
    assert info.value.limit == "pending_streams_per_source"
    legit = await store.issue("CA-real", "twilio", source="AC-real")
    assert (await store.redeem(legit, "twilio")).source == "AC-real"
    assert (await store.redeem(flood[0], "twilio")).call_id == "f0"
    clock.now += 61  # the rest expire and give their slots back
    assert await store.issue("f3", "twilio", source="198.51.100.7")


async def test_errors_are_signature_errors_and_args_checked() -> None:
    assert issubclass(StreamTokenError, SignatureError)
    with pytest.raises(ValueError, match=r"^stream token: unknown carrier 'sip'$"):
        await StreamTokenStore().issue("c", "sip")
    assert await StreamTokenStore().issue("c", "exotel")  # every registered carrier is valid
    with pytest.raises(ValueError, match=r"^stream token: call_id must not be empty$"):
        await StreamTokenStore().issue("", "twilio")
