"""AddressRateLimit (per client address, in the state store) and the /api/token rate
limit (429 + Retry-After), which honours X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import dataclasses

import pytest

from omnivoice_rtc.settings import IngressLimits, LimitSettings
from omnivoice_rtc.settings.limits import parse_networks
from omnivoice_rtc.state import MemoryStateStore
from omnivoice_rtc.web.ratelimit import AddressRateLimit
from omnivoice_rtc.web.token_endpoint import RATE_WINDOW_S, TOKENS_PER_ADDRESS

from .conftest import ClientFactory, make_settings

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _limit(
    clock: FakeClock, *, limit: int, window_s: float, max_keys: int = 1000
) -> AddressRateLimit:
    store = MemoryStateStore(max_keys=max_keys, clock=clock)
    return AddressRateLimit(store=store, name="t", limit=limit, window_s=window_s)


async def test_limit_per_key_and_window_slides() -> None:
    clock = FakeClock()
    limiter = _limit(clock, limit=3, window_s=10.0)
    assert [await limiter.hit("192.0.2.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await limiter.hit("192.0.2.1") == pytest.approx(10.0)
    assert await limiter.hit("192.0.2.2") == 0.0  # other addresses are independent
    clock.now += 4.0
    assert await limiter.hit("192.0.2.1") == pytest.approx(6.0)
    clock.now += 6.0  # the first three hits leave the window
    assert await limiter.hit("192.0.2.1") == 0.0


async def test_refused_hits_do_not_extend_the_wait() -> None:
    clock = FakeClock()
    limiter = _limit(clock, limit=1, window_s=5.0)
    assert await limiter.hit("192.0.2.1") == 0.0
    for _ in range(10):
        assert await limiter.hit("192.0.2.1") > 0
    clock.now += 5.0
    assert await limiter.hit("192.0.2.1") == 0.0


async def test_tracked_keys_are_bounded() -> None:
    clock = FakeClock()
    limiter = _limit(clock, limit=1, window_s=60.0, max_keys=2)
    assert await limiter.hit("192.0.2.1") == 0.0
    assert await limiter.hit("192.0.2.2") == 0.0
    assert await limiter.hit("192.0.2.3") == 0.0  # evicts .1, the least recently seen
    assert await limiter.hit("192.0.2.1") == 0.0
    assert await limiter.hit("192.0.2.3") > 0


async def test_an_ipv6_64_is_one_address() -> None:
    limiter = _limit(FakeClock(), limit=1, window_s=60.0)
    assert await limiter.hit("2001:db8:0:1::1") == 0.0
    assert await limiter.hit("2001:db8:0:1::ffff") > 0  # same /64: rotating does not help


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0, "window_s": 1.0}, "limit: must be at least 1, got 0"),
        ({"limit": 1, "window_s": 0.0}, "window_s: must be positive, got 0.0"),
        ({"limit": 1, "window_s": 1.0, "name": ""}, "name: must not be empty"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"store": MemoryStateStore(), "name": "t", **kwargs}
    with pytest.raises(ValueError, match=message):
        AddressRateLimit(**arguments)  # type: ignore[arg-type]  # reason: mixed types on purpose


async def test_token_endpoint_answers_429_past_the_limit(make_client: ClientFactory) -> None:
    client = await make_client(make_settings(token_key="k"))
    for _ in range(TOKENS_PER_ADDRESS - 1):
        assert (await client.post("/api/token", headers={"X-Omnivoice-Key": "k"})).status == 200
    assert (await client.post("/api/token")).status == 401  # refused requests count too
    response = await client.post("/api/token", headers={"X-Omnivoice-Key": "k"})
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= RATE_WINDOW_S
    assert (await response.json())["error"] == (
        f"too many token requests: at most {TOKENS_PER_ADDRESS} per {RATE_WINDOW_S:g} s per address"
    )
    metrics = await (await client.get("/metrics", headers={"X-Omnivoice-Key": "k"})).text()
    assert 'omnivoice_tokens_refused_total{reason="rate_limited"} 1.0' in metrics


async def test_forwarded_for_counts_only_from_a_trusted_proxy(make_client: ClientFactory) -> None:
    """The test client connects from 127.0.0.1: untrusted, a forged X-Forwarded-For does not
    buy a fresh budget; trusted, each forwarded client has its own."""
    untrusted = await make_client(make_settings())
    for i in range(TOKENS_PER_ADDRESS):
        forged = {"X-Forwarded-For": f"203.0.113.{i}"}
        assert (await untrusted.get("/api/token", headers=forged)).status == 200
    assert (await untrusted.get("/api/token", headers={"X-Forwarded-For": "6.6.6.6"})).status == 429

    settings = make_settings()
    proxies = parse_networks("OMNIVOICE_TRUSTED_PROXIES", "127.0.0.1")
    limits = LimitSettings(ingress=IngressLimits(trusted_proxies=proxies))
    behind_proxy = await make_client(dataclasses.replace(settings, limits=limits))
    for _ in range(TOKENS_PER_ADDRESS):
        ok = await behind_proxy.get("/api/token", headers={"X-Forwarded-For": "203.0.113.1"})
        assert ok.status == 200
    one = await behind_proxy.get("/api/token", headers={"X-Forwarded-For": "203.0.113.1"})
    assert one.status == 429
    other = await behind_proxy.get("/api/token", headers={"X-Forwarded-For": "203.0.113.2"})
    assert other.status == 200
