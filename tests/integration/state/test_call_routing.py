"""Call-control actions reach the replica serving the call, over one real redis-server: an
action asked of replica B runs on replica A (the call's owner in the live-call registry),
A's errors come back as themselves, a call nobody serves is closed, and an owner that does
not answer is a retryable error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from omnivoice_rtc._errors import ProviderError, SessionClosedError, UnsupportedActionError
from omnivoice_rtc.state import LiveCallRegistry, RedisStateStore
from omnivoice_rtc.state.call_routing import CallRouter
from tests.plugins.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
async def routers(redis_server: RedisServer) -> AsyncIterator[tuple[CallRouter, CallRouter]]:
    prefix = redis_server.new_prefix()
    stores = [RedisStateStore(url=redis_server.url, prefix=prefix) for _ in range(2)]
    made = [
        CallRouter(
            registry=LiveCallRegistry(store=store, replica_id=name),
            redis=store.client,
            prefix=prefix,
            timeout_s=2.0,
        )
        for store, name in zip(stores, ("replica-a", "replica-b"), strict=True)
    ]
    for router in made:
        await router.start()
    try:
        yield made[0], made[1]
    finally:
        for router in made:
            await router.aclose()
        for store in stores:
            await store.aclose()


async def test_an_action_asked_of_any_replica_runs_where_the_call_lives(
    routers: tuple[CallRouter, CallRouter],
) -> None:
    a, b = routers
    ran: list[tuple[str, str, str, dict[str, Any]]] = []

    def handler(replica: str) -> Any:
        async def handle(call_id: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
            ran.append((replica, call_id, action, args))
            if action == "transfer":
                raise UnsupportedActionError("no transfer here", action=action, route="twilio")
            return {"done": action, "on": replica}

        return handle

    a.handle("twilio", handler("a"))
    b.handle("twilio", handler("b"))
    registry_a = a.registry
    owner = registry_a.owner_token("n1")
    assert await registry_a.claim("twilio", "CA1", owner)

    assert await b.owner("twilio", "CA1") == "replica-a"
    assert await b.dispatch("twilio", "CA1", "hold", {"music": "on"}) == {
        "done": "hold",
        "on": "a",
    }
    assert await a.dispatch("twilio", "CA1", "dtmf", {"digits": "1"}) == {"done": "dtmf", "on": "a"}
    assert ran == [("a", "CA1", "hold", {"music": "on"}), ("a", "CA1", "dtmf", {"digits": "1"})]

    with pytest.raises(UnsupportedActionError) as info:
        await b.dispatch("twilio", "CA1", "transfer")
    assert (info.value.action, info.value.route) == ("transfer", "twilio")

    await registry_a.release("twilio", "CA1", owner)
    with pytest.raises(SessionClosedError):
        await b.dispatch("twilio", "CA1", "hold")


async def test_an_owner_that_stopped_listening_is_a_retryable_error(
    routers: tuple[CallRouter, CallRouter],
) -> None:
    a, b = routers
    registry_a = a.registry
    assert await registry_a.claim("sip", "SCL_1", registry_a.owner_token("n2"))
    await a.aclose()  # replica A died; its claim has not expired yet
    with pytest.raises(ProviderError) as info:
        await b.dispatch("sip", "SCL_1", "hangup")
    assert info.value.retryable
