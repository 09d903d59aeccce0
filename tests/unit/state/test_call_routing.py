"""CallRouter in one process (no Redis): every live call is local."""

from __future__ import annotations

from typing import Any

import pytest

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.state import LiveCallRegistry, MemoryStateStore
from omnivoice_rtc.state.call_routing import CallRouter

pytestmark = pytest.mark.unit


async def test_a_local_call_runs_its_handler_and_an_unknown_one_is_closed() -> None:
    router = CallRouter(registry=LiveCallRegistry(store=MemoryStateStore(), replica_id="solo"))
    await router.start()

    async def handle(call_id: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"call": call_id, "action": action, **args}

    router.handle("twilio", handle)
    assert await router.registry.claim("twilio", "CA1", router.registry.owner_token("x"))
    assert await router.dispatch("twilio", "CA1", "hold", {"on": True}) == {
        "call": "CA1",
        "action": "hold",
        "on": True,
    }
    with pytest.raises(SessionClosedError, match="no live call 'CA2'"):
        await router.dispatch("twilio", "CA2", "hold")
    assert await router.registry.claim("sip", "SCL_1", router.registry.owner_token("y"))
    with pytest.raises(SessionClosedError, match="route 'sip' has no call-control handler"):
        await router.dispatch("sip", "SCL_1", "hangup")
    await router.aclose()
