"""CallRoomBase's agent handling through FakeCallRoom (no server): the departure reported,
a fresh agent dispatched in place of a dead one, and the native rooms' silence check."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import pytest

from omnivoice_rtc.settings import CallSettings
from omnivoice_rtc.shim.call_room import RoomCallbacks
from omnivoice_rtc.types import Event, EventType
from tests.fakes.fake_call_room import FakeCallRoom, fake_room_spec

pytestmark = pytest.mark.unit


class _Room:
    """A FakeCallRoom with test liveness settings, recording each departure reported."""

    def __init__(self, **liveness: Any) -> None:
        self.left: list[str] = []
        self.changed = asyncio.Event()
        spec = dataclasses.replace(fake_room_spec(), liveness=CallSettings(**liveness))
        self.room = FakeCallRoom(spec=spec, callbacks=RoomCallbacks(on_agent_left=self._left))

    def _left(self) -> None:
        self.left.append(self.room.agent_departure)
        self.changed.set()

    async def until_left(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.left) < count:
                self.changed.clear()
                await self.changed.wait()


def test_departures_are_reported_with_their_reason() -> None:
    t = _Room()
    t.room.agent_joins()
    t.room.agent_event(Event(type=EventType.SESSION_ENDED))
    t.room.agent_leaves()
    assert t.left == ["agent_ended"]

    other = _Room()
    other.room.agent_joins()
    other.room.agent_event(Event(type=EventType.SESSION_ENDED), participant="someone-else")
    other.room.agent_leaves()  # it ended someone else's session, not our caller's
    assert other.left == ["agent_left"]


async def test_a_replaced_agent_is_retired_and_the_fresh_one_is_dispatched() -> None:
    t = _Room(agent_rejoin_timeout_s=5)
    t.room.agent_joins(identity="agent-1")
    t.room.agent_stops_answering()
    await t.room.replace_agent(metadata='{"omnivoice":{}}')
    assert t.room.dispatches == ['{"omnivoice":{}}']
    assert t.room.removed == ["agent-1"]
    assert (t.room.agent_identity, t.room.agent_departure) == ("", "")
    t.room.agent_joins(identity="agent-1")  # the zombie is never the agent again
    assert t.room.agent_identity == ""
    t.room.agent_joins(identity="agent-2")
    assert t.room.agent_identity == "agent-2"
    assert t.left == ["agent_unresponsive"]
    await t.room._cancel_tasks([])


async def test_a_late_fresh_agent_is_kept_and_the_next_dispatch_removed() -> None:
    """Overloaded worker: the first fresh agent joins after its join timeout, when the next
    one is already dispatched; both join, only the first stays (one agent per call)."""
    t = _Room(agent_rejoin_timeout_s=5)
    t.room.agent_joins(identity="agent-1")
    t.room.agent_stops_answering()
    await t.room.replace_agent(metadata="{}")  # fresh agent A dispatched, slow to start
    await t.room.replace_agent(metadata="{}")  # its timeout passed: fresh agent B
    assert t.room.removed == ["agent-1"]
    t.room.agent_joins(identity="agent-A")
    t.room.agent_joins(identity="agent-B")
    t.room.agent_joins(identity="agent-B")  # its track arrives: named once
    await asyncio.sleep(0)  # the removal task runs
    assert t.room.agent_identity == "agent-A"
    assert t.room.removed == ["agent-1", "agent-B"]
    await t.room._cancel_tasks([])


async def test_a_fresh_agent_that_never_joins_is_reported() -> None:
    t = _Room(agent_rejoin_timeout_s=1)
    t.room.agent_joins()
    t.room.agent_leaves()
    await t.room.replace_agent(metadata="{}")
    assert t.room.removed == ["agent-1"]
    await t.until_left(2)
    assert t.left == ["agent_left", "agent_never_joined"]


async def test_pings_that_go_unanswered_report_the_agent_unresponsive() -> None:
    t = _Room(agent_ping_s=0.001, agent_ping_timeout_s=0.5)
    answers = [True, False]
    asked: list[tuple[str, float]] = []

    async def answers_then_dies(identity: str, timeout_s: float) -> bool:
        asked.append((identity, timeout_s))
        return answers.pop(0) if answers else False

    t.room._agent_answers = answers_then_dies  # type: ignore[method-assign]  # reason: scripted probe
    t.room.agent_joins()
    watch = asyncio.ensure_future(t.room._watch_agent_alive())
    await t.until_left(1)
    assert t.left == ["agent_unresponsive"]
    assert asked[:2] == [("agent-1", 0.5)] * 2
    t.room._closed = True
    await asyncio.wait_for(watch, 5)


async def test_the_default_check_judges_by_the_agents_audio() -> None:
    t = _Room(agent_ping_s=1.0, agent_ping_timeout_s=1.0)
    t.room.agent_joins()
    assert await t.room._agent_answers("agent-1", 1.0)  # no audio yet: nothing to judge by
    t.room._note_agent_audio()
    assert await t.room._agent_answers("agent-1", 1.0)
    t.room._agent.last_audio_at = time.monotonic() - 3  # silent for longer than 1 + 0.5 s
    assert not await t.room._agent_answers("agent-1", 1.0)


def test_the_spec_carries_default_liveness() -> None:
    assert fake_room_spec().liveness == CallSettings()


async def test_no_agent_is_judged_while_the_server_itself_does_not_answer() -> None:
    t = _Room(agent_ping_s=0.001, agent_ping_timeout_s=0.5)
    t.room.server_up = False  # livekit-server frozen: every ping fails, nobody is to blame
    checked: list[str] = []

    async def no_answer(identity: str, timeout_s: float) -> bool:
        checked.append(identity)
        if len(checked) == 20:
            t.room.server_up = True  # the server answers again: now the silence is the agent's
        return False

    t.room._agent_answers = no_answer  # type: ignore[method-assign]  # reason: scripted probe
    t.room.agent_joins()
    watch = asyncio.ensure_future(t.room._watch_agent_alive())
    await t.until_left(1)
    assert len(checked) >= 20
    assert t.left == ["agent_unresponsive"]
    t.room._closed = True
    await asyncio.wait_for(watch, 5)
