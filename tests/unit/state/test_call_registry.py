"""LiveCallRegistry owner tokens: which claims are this replica's."""

from __future__ import annotations

import pytest

from omnivoice_rtc.state import LiveCallRegistry, MemoryStateStore

pytestmark = pytest.mark.unit


async def test_a_claim_is_ours_only_when_this_replica_made_it() -> None:
    store = MemoryStateStore()
    here = LiveCallRegistry(store=store, replica_id="web-a")
    there = LiveCallRegistry(store=store, replica_id="web-ab")  # a prefix is not a match
    assert await there.claim("twilio", "CA1", there.owner_token("n1"))
    owner = await here.owner_of("twilio", "CA1")
    assert owner is not None
    assert (here.is_ours(owner), there.is_ours(owner)) == (False, True)
    assert here.is_ours(here.owner_token("n2"))
