"""AgentTracker: which participant is the agent, and when (and why) it is gone."""

from __future__ import annotations

import asyncio
import time

import pytest

from omnivoice_rtc.calls.agent_tracker import AGENT_STATE_ATTRIBUTE, AgentDeparture, AgentTracker
from omnivoice_rtc.settings import CallSettings

pytestmark = pytest.mark.unit


def _tracker(**liveness: float) -> tuple[AgentTracker, list[AgentDeparture]]:
    gone: list[AgentDeparture] = []
    tracker = AgentTracker(
        liveness=CallSettings(**liveness),  # type: ignore[arg-type]  # reason: test kwargs
        on_gone=gone.append,
        context={"room": "call-x"},
    )
    return tracker, gone


def test_the_first_agent_is_the_agent_and_its_state_is_followed() -> None:
    tracker, _gone = _tracker()
    assert tracker.note("agent-1", {AGENT_STATE_ATTRIBUTE: "listening"})
    assert not tracker.note("agent-2", {})
    assert tracker.identity == "agent-1"
    assert tracker.state_changed("agent-1", {AGENT_STATE_ATTRIBUTE: "speaking"}) == (
        "listening",
        "speaking",
    )
    assert tracker.state_changed("agent-1", {AGENT_STATE_ATTRIBUTE: "speaking"}) is None
    assert tracker.state_changed("agent-2", {AGENT_STATE_ATTRIBUTE: "idle"}) is None


def test_leaving_after_ending_its_session_is_not_a_loss() -> None:
    tracker, gone = _tracker()
    tracker.note("agent-1", {})
    tracker.participant_left("someone-else")
    assert gone == []
    tracker.session_ended()
    tracker.participant_left("agent-1")
    tracker.participant_left("agent-1")  # reported once
    assert gone == ["agent_ended"]


def test_leaving_without_ending_its_session_is_a_loss() -> None:
    tracker, gone = _tracker()
    tracker.note("agent-1", {})
    tracker.participant_left("agent-1")
    assert gone == ["agent_left"]
    assert tracker.departure == "agent_left"


def test_a_retired_agent_is_never_taken_again() -> None:
    tracker, gone = _tracker()
    tracker.note("agent-1", {})
    tracker.gone("agent_unresponsive")
    assert tracker.retire() == "agent-1"
    assert tracker.departure == ""
    assert not tracker.note("agent-1", {})  # the zombie still listed
    tracker.participant_left("agent-1")  # its late departure is no news
    assert tracker.note("agent-2", {})
    assert gone == ["agent_unresponsive"]
    assert tracker.is_retired("agent-1")


def test_a_second_agent_is_surplus_only_after_a_fresh_one_was_dispatched() -> None:
    tracker, _gone = _tracker()
    tracker.note("agent-1", {})
    assert not tracker.claim_surplus("agent-2")  # never replaced: not ours to judge
    tracker.retire()  # agent-1 died: a fresh one is dispatched
    assert not tracker.claim_surplus("agent-2")  # the call has no agent yet: it may be it
    assert tracker.note("agent-2", {})
    assert not tracker.claim_surplus("agent-2")  # the agent itself
    assert not tracker.claim_surplus("agent-1")  # given up on: removed by the replacement
    assert tracker.claim_surplus("agent-3")  # a late arrival of an earlier dispatch
    assert not tracker.claim_surplus("agent-3")  # named once
    assert tracker.identity == "agent-2"


def test_a_fresh_agent_late_past_its_join_timeout_is_kept_and_the_next_one_removed() -> None:
    tracker, _gone = _tracker()
    tracker.note("agent-1", {})
    tracker.retire()  # first fresh agent dispatched; it is slow to start
    tracker.retire()  # its join timeout passed: the next one is dispatched
    assert not tracker.claim_surplus("agent-2")  # the first to arrive is the agent
    assert tracker.note("agent-2", {})
    assert tracker.claim_surplus("agent-3")


async def test_an_agent_that_never_joins_is_reported() -> None:
    tracker, gone = _tracker()
    await tracker.watch_join(0.01)
    assert gone == ["agent_never_joined"]


async def test_an_agent_that_joins_in_time_is_not_reported() -> None:
    tracker, gone = _tracker()
    watch = asyncio.ensure_future(tracker.watch_join(5))
    await asyncio.sleep(0)
    tracker.note("agent-1", {})
    await asyncio.wait_for(watch, 5)
    assert gone == []


async def test_a_join_watch_of_a_replaced_agent_says_nothing() -> None:
    tracker, gone = _tracker()
    watch = asyncio.ensure_future(tracker.watch_join(0.01))
    await asyncio.sleep(0)  # the watch is waiting for the first agent
    tracker.retire()  # a fresh agent is expected: the old watch must not report
    await watch
    assert gone == []


async def test_an_agent_that_stops_answering_is_reported_once() -> None:
    tracker, gone = _tracker(agent_ping_s=0.001, agent_ping_timeout_s=0.5)
    tracker.note("agent-1", {})
    answers = iter([True, True, False])
    asked: list[tuple[str, float]] = []

    async def probe(identity: str, timeout_s: float) -> bool:
        asked.append((identity, timeout_s))
        return next(answers, False)

    await asyncio.wait_for(tracker.watch_alive(probe, closed=lambda: bool(gone)), 5)
    assert gone == ["agent_unresponsive"]
    assert asked == [("agent-1", 0.5)] * 3


async def test_no_pings_when_turned_off() -> None:
    tracker, _gone = _tracker(agent_ping_s=0)

    async def probe(identity: str, timeout_s: float) -> bool:
        raise AssertionError("pinged")

    await asyncio.wait_for(tracker.watch_alive(probe, closed=lambda: False), 1)


def test_an_agent_silent_past_the_limit_is_dead() -> None:
    tracker, _gone = _tracker(agent_ping_s=1.0, agent_ping_timeout_s=1.0)
    tracker.note("agent-1", {})
    assert not tracker.silent_too_long()  # never sent audio: nothing to judge by
    tracker.note_audio()
    assert not tracker.silent_too_long()
    assert tracker.link.last_audio_at is not None
    tracker.link.last_audio_at = time.monotonic() - 1.2  # within 1 + 0.5 s: alive
    assert not tracker.silent_too_long()
    tracker.link.last_audio_at = time.monotonic() - 2.5  # > 1 + 0.5 s ago
    assert tracker.silent_too_long()


async def test_a_probe_that_overran_because_we_were_starved_judges_nothing() -> None:
    tracker, gone = _tracker(agent_ping_s=0.001, agent_ping_timeout_s=0.1)
    tracker.note("agent-1", {})
    slow = [True, True, True]  # the first three answers come 0.5 s late: inconclusive

    async def probe(identity: str, timeout_s: float) -> bool:
        if slow:
            slow.pop()
            await asyncio.sleep(timeout_s + 0.4)
        return False

    await asyncio.wait_for(tracker.watch_alive(probe, closed=lambda: bool(gone)), 5)
    assert slow == []  # judged only once an answer was on time
    assert gone == ["agent_unresponsive"]
