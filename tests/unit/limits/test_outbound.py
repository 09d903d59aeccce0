"""OutboundGuard: allow-list (fail closed), per-minute rate, concurrency with leases."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import ConfigError, LimitError
from omnivoice_rtc.limits.outbound import OutboundGuard, normalise_destination
from omnivoice_rtc.settings.limits import OutboundLimits
from omnivoice_rtc.state import MemoryStateStore

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _guard(clock: FakeClock | None = None, **limits: object) -> OutboundGuard:
    store = MemoryStateStore(clock=clock or FakeClock())
    return OutboundGuard(limits=OutboundLimits(**limits), store=store)  # type: ignore[arg-type]  # reason: test kwargs


async def test_no_allow_list_refuses_every_call_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^OMNIVOICE_OUTBOUND_ALLOW: outbound calls are refused"):
        await _guard().admit("+14155550100")


@pytest.mark.parametrize(
    ("to", "allowed"),
    [
        ("+14155550100", True),
        ("+1 (415) 555-0100", True),
        ("tel:+1-415-555-0100", True),
        ("14155550100", True),  # Plivo/Vonage style, no '+'
        ("+4420", True),
        ("+900555", False),  # premium-rate elsewhere
        ("+1212", False),
        ("", False),
        ("sip:alice@example.com", False),
    ],
)
async def test_allow_list_prefixes(to: str, allowed: bool) -> None:
    guard = _guard(allow=("+1415", "+44"))
    if allowed:
        lease = await guard.admit(to)
        await lease.release()
    else:
        with pytest.raises(LimitError, match=r"not in OMNIVOICE_OUTBOUND_ALLOW") as info:
            await guard.admit(to)
        assert (info.value.limit, info.value.retryable) == ("outbound_allow", False)


async def test_star_allows_anything_and_sip_users_match_as_text() -> None:
    lease = await _guard(allow=("*",)).admit("+882123")
    await lease.release()
    guard = _guard(allow=("sip:alice",))
    await (await guard.admit("sip:alice@example.com")).release()
    assert normalise_destination(" +1 415.555 (0100) ") == "+14155550100"


async def test_concurrency_is_held_until_released() -> None:
    guard = _guard(allow=("*",), max_concurrent=2)
    first = await guard.admit("+1")
    second = await guard.admit("+2")
    with pytest.raises(LimitError, match=r"2 outbound calls are in progress") as info:
        await guard.admit("+3")
    assert info.value.limit == "outbound_concurrent"
    assert await guard.in_progress() == 2
    await first.release()
    await first.release()  # once only
    assert await guard.in_progress() == 1
    third = await guard.admit("+3")
    await second.release()
    await third.release()
    assert await guard.in_progress() == 0
    await guard.aclose()


async def test_rate_per_minute_with_retry_after() -> None:
    clock = FakeClock()
    guard = _guard(clock, allow=("*",), per_minute=2, max_concurrent=10)
    for _ in range(2):
        await (await guard.admit("+1")).release()
    with pytest.raises(LimitError, match=r"at most 2 per minute") as info:
        await guard.admit("+1")
    assert info.value.limit == "outbound_rate"
    assert 0 < info.value.retry_after_s <= 60
    clock.now += 60.1
    await (await guard.admit("+1")).release()
