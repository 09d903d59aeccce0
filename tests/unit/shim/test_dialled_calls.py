"""DialledCalls shared between replicas through one store: the stream may reach the
replica that did not dial; the dialling replica keeps the outbound slot while the call is
live there and releases it afterwards; a call whose stream never came is dropped."""

from __future__ import annotations

import asyncio

import pytest

from omnivoice_rtc.limits.outbound import OutboundGuard
from omnivoice_rtc.settings import OutboundLimits
from omnivoice_rtc.shim import dialled_calls
from omnivoice_rtc.shim.dialled_calls import DialledCalls
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.state import MemoryStateStore
from omnivoice_rtc.types import CallInfo

pytestmark = pytest.mark.unit


def _session() -> PstnSession:
    return PstnSession(
        call=CallInfo(
            call_id="CA1", from_="+15550000", to="+15550100", direction="outbound", carrier="twilio"
        )
    )


async def test_the_other_replica_takes_a_dialled_call_from_the_shared_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dialled_calls, "GRACE_S", 0.0)
    store = MemoryStateStore()
    guard = OutboundGuard(limits=OutboundLimits(allow=("*",), max_concurrent=1), store=store)
    live = {"CA1": True}

    async def is_live(call_id: str) -> bool:
        return live.get(call_id, False)

    dialler = DialledCalls(store=store, is_live=is_live)
    other = DialledCalls(store=store, is_live=is_live)
    lease = await guard.admit("+15550100")
    await dialler.add("pending-1", _session(), lease, 0.05, agent_name="sales")
    assert await other.is_pending("pending-1")
    assert await other.call_id_of("pending-1") == "CA1"

    taken = await other.take("pending-1")
    assert taken is not None
    assert (taken.session.id, taken.session.call.to, taken.agent_name) == (
        "CA1",
        "+15550100",
        "sales",
    )
    assert taken.lease is None  # the dialling replica keeps the slot
    assert not await other.is_pending("pending-1")

    await asyncio.sleep(0.06)  # the token expired on the dialling replica
    gone = await dialler.purge()
    assert [s.end_reason for s in gone] == ["streamed_elsewhere"]
    assert await guard.in_progress() == 1  # live on the other replica: slot kept
    live["CA1"] = False
    assert await dialler.purge() == []
    assert await guard.in_progress() == 0
    await guard.aclose()


async def test_a_dialled_call_whose_stream_never_came_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dialled_calls, "GRACE_S", 0.0)
    store = MemoryStateStore()
    guard = OutboundGuard(limits=OutboundLimits(allow=("*",), max_concurrent=1), store=store)

    async def is_live(call_id: str) -> bool:
        return False

    dialler = DialledCalls(store=store, is_live=is_live)
    await dialler.add("pending-1", _session(), await guard.admit("+15550100"), 0.01)
    await asyncio.sleep(0.02)
    [session] = await dialler.purge()
    assert session.end_reason == "no_stream"
    assert await guard.in_progress() == 0
    assert not await DialledCalls(store=store).is_pending("pending-1")
    await guard.aclose()


async def test_a_call_taken_where_it_was_dialled_is_gone_for_the_others() -> None:
    store = MemoryStateStore()
    guard = OutboundGuard(limits=OutboundLimits(allow=("*",)), store=store)
    dialler = DialledCalls(store=store)
    lease = await guard.admit("+15550100")
    await dialler.add("pending-1", _session(), lease, 60)
    taken = await dialler.take("pending-1")
    assert taken is not None
    assert taken.lease is lease
    assert await DialledCalls(store=store).take("pending-1") is None
    await lease.release()
    await guard.aclose()
