"""StateStore: the same behaviour from MemoryStateStore and RedisStateStore.

Every test runs twice: on the memory store (marker ``unit``, a fake clock) and on a real
redis-server started by ``tests/plugins/redis_server.py`` (marker ``integration``; real
time, so expiry is shown with short TTLs and a wait longer than them, and "still there"
with TTLs far longer than the test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from omnivoice_rtc._errors import LimitError, ProviderError
from omnivoice_rtc.state import LiveCallRegistry, MemoryStateStore, RedisStateStore, StateStore
from tests.plugins.redis_server import RedisServer

LONG = 60.0
"""A TTL no test outlives (s)."""
SHORT = 0.2
"""A TTL every test outlives after :meth:`Harness.wait_past` (s)."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    store: StateStore
    clock: FakeClock | None

    async def wait_past(self, seconds: float) -> None:
        """Let ``seconds`` (plus a margin) pass for the store."""
        if self.clock is not None:
            self.clock.now += seconds + 0.01
        else:
            await asyncio.sleep(seconds + 0.3)


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("redis", marks=pytest.mark.integration),
    ]
)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        clock = FakeClock()
        yield Harness(store=MemoryStateStore(max_keys=1000, clock=clock), clock=clock)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    store = RedisStateStore(url=server.url, prefix=server.new_prefix())
    try:
        yield Harness(store=store, clock=None)
    finally:
        await store.aclose()


async def test_put_if_absent_once_until_it_expires(harness: Harness) -> None:
    store = harness.store
    assert await store.put_if_absent("answered:CA1", "r1", ttl_s=SHORT)
    assert not await store.put_if_absent("answered:CA1", "r2", ttl_s=SHORT)
    assert await store.get("answered:CA1") == "r1"
    await harness.wait_past(SHORT)
    assert await store.get("answered:CA1") is None
    assert await store.put_if_absent("answered:CA1", "r2", ttl_s=LONG)
    assert await store.get("answered:CA1") == "r2"


async def test_take_is_once_and_atomic(harness: Harness) -> None:
    store = harness.store
    await store.put_if_absent("token:t", "grant", ttl_s=LONG)
    results = await asyncio.gather(*(store.take("token:t") for _ in range(10)))
    assert (results.count("grant"), results.count(None)) == (1, 9)
    assert await store.take("token:t") is None
    assert await store.take("never") is None


async def test_expire_if_and_delete_if_compare_the_value(harness: Harness) -> None:
    store = harness.store
    await store.put_if_absent("live:x", "owner-a", ttl_s=SHORT)
    assert not await store.expire_if("live:x", "owner-b", ttl_s=LONG)
    assert await store.expire_if("live:x", "owner-a", ttl_s=LONG)
    await harness.wait_past(SHORT)
    assert await store.get("live:x") == "owner-a"  # refreshed past its first TTL
    assert not await store.delete_if("live:x", "owner-b")
    assert await store.get("live:x") == "owner-a"
    assert await store.delete_if("live:x", "owner-a")
    assert await store.get("live:x") is None
    assert not await store.expire_if("live:x", "owner-a", ttl_s=LONG)
    # shortening works too: the "window after the call" of an answered call id
    await store.put_if_absent("answered:y", "r", ttl_s=LONG)
    assert await store.expire_if("answered:y", "r", ttl_s=SHORT)
    await harness.wait_past(SHORT)
    assert await store.get("answered:y") is None


async def test_hit_counts_a_sliding_window(harness: Harness) -> None:
    store = harness.store
    assert [await store.hit("rate:a", limit=3, window_s=SHORT) for _ in range(3)] == [0.0] * 3
    wait = await store.hit("rate:a", limit=3, window_s=SHORT)
    assert 0 < wait <= SHORT + 1e-6
    assert await store.hit("rate:b", limit=3, window_s=SHORT) == 0.0  # keys are independent
    await harness.wait_past(SHORT)
    assert await store.hit("rate:a", limit=3, window_s=SHORT) == 0.0


async def test_slots_are_counted_released_refreshed_and_expire(harness: Harness) -> None:
    store = harness.store
    assert await store.acquire_slot("sockets", "a", limit=2, ttl_s=LONG)
    assert await store.acquire_slot("sockets", "b", limit=2, ttl_s=SHORT)
    assert await store.acquire_slot("sockets", "a", limit=2, ttl_s=LONG)  # held: refresh
    assert not await store.acquire_slot("sockets", "c", limit=2, ttl_s=LONG)
    assert await store.count_slots("sockets") == 2
    await store.release_slot("sockets", "a")
    await store.release_slot("sockets", "a")  # twice: nothing
    assert await store.count_slots("sockets") == 1
    assert await store.acquire_slot("sockets", "c", limit=2, ttl_s=LONG)
    assert not await store.refresh_slot("sockets", "a", ttl_s=LONG)
    await harness.wait_past(SHORT)  # b's holder died without releasing
    assert await store.count_slots("sockets") == 1
    assert not await store.refresh_slot("sockets", "b", ttl_s=LONG)
    assert await store.refresh_slot("sockets", "c", ttl_s=LONG)
    assert await store.acquire_slot("sockets", "d", limit=2, ttl_s=LONG)


async def test_live_call_registry_refuses_a_second_owner(harness: Harness) -> None:
    registry = LiveCallRegistry(store=harness.store, replica_id="replica-1", ttl_s=SHORT)
    first, second = registry.owner_token("n1"), registry.owner_token("n2")
    assert first == "replica-1/n1"
    assert await registry.claim("twilio", "CA1", first)
    assert not await registry.claim("twilio", "CA1", second)
    assert await registry.claim("telnyx", "CA1", second)  # carriers are separate
    assert await registry.owner_of("twilio", "CA1") == first
    assert await registry.refresh("twilio", "CA1", first)
    assert not await registry.refresh("twilio", "CA1", second)
    await registry.release("twilio", "CA1", second)  # not the owner: nothing
    assert await registry.owner_of("twilio", "CA1") == first
    await registry.release("twilio", "CA1", first)
    assert await registry.claim("twilio", "CA1", second)
    await harness.wait_past(SHORT)  # the owner died without releasing: the claim expires
    assert await registry.owner_of("twilio", "CA1") is None


@pytest.mark.unit
async def test_memory_store_is_bounded_and_refuses_instead_of_evicting() -> None:
    clock = FakeClock()
    store = MemoryStateStore(max_keys=3, clock=clock)
    for i in range(3):
        assert await store.put_if_absent(f"k{i}", "v", ttl_s=10)
    with pytest.raises(LimitError, match=r"^state store full: 3 entries") as info:
        await store.put_if_absent("k3", "v", ttl_s=10)
    assert info.value.limit == "state_store"
    assert [await store.get(f"k{i}") for i in range(3)] == ["v"] * 3  # nothing evicted
    clock.now += 10  # expired entries make room
    assert await store.put_if_absent("k3", "v", ttl_s=10)
    # counters forget the least recently used key; slot keys beyond the bound are refused
    for i in range(4):
        await store.hit(f"rate{i}", limit=1, window_s=60)
    assert await store.hit("rate0", limit=1, window_s=60) == 0.0  # rate0 was forgotten
    for i in range(3):
        assert await store.acquire_slot(f"slots{i}", "h", limit=1, ttl_s=10)
    assert not await store.acquire_slot("slots3", "h", limit=1, ttl_s=10)
    await store.release_slot("slots0", "h")
    assert await store.acquire_slot("slots3", "h", limit=1, ttl_s=10)


@pytest.mark.unit
async def test_memory_store_purges_expired_entries_of_refreshed_keys() -> None:
    clock = FakeClock()
    store = MemoryStateStore(max_keys=2, clock=clock)
    assert await store.put_if_absent("a", "1", ttl_s=5)
    for _ in range(3000):  # many refreshes leave stale deadlines behind; they are compacted
        assert await store.expire_if("a", "1", ttl_s=5)
    assert await store.put_if_absent("b", "1", ttl_s=1)
    clock.now += 2
    assert await store.put_if_absent("c", "1", ttl_s=1)  # b expired: room again
    assert await store.get("a") == "1"


@pytest.mark.integration
async def test_redis_unreachable_is_a_retryable_provider_error() -> None:
    store = RedisStateStore(url="redis://127.0.0.1:1/0")
    try:
        with pytest.raises(ProviderError, match=r"^redis: SET NX failed: ") as info:
            await store.put_if_absent("k", "v", ttl_s=1)
        assert info.value.retryable
    finally:
        await store.aclose()
