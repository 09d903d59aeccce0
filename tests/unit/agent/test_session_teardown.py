"""LiveKitSession teardown: the session ends exactly once and never waits on itself.

A stand-in room and AgentSession (plain objects with the few members the session
touches) drive the close paths without a server; the integration tests in
tests/integration/agent/ run the same paths against livekit-server.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

import pytest
from livekit import rtc
from livekit.agents.voice import events as lk

from omnivoice_rtc.agent.livekit_session import LiveKitSession
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.types import EventType, SessionEnded

pytestmark = pytest.mark.unit


class _Room:
    name = "room-1"

    def __init__(self) -> None:
        self.local_participant = type("Local", (), {"identity": "agent-1"})()

    def on(self, *_: Any) -> None: ...

    def off(self, *_: Any) -> None: ...


class _Participant:
    identity = "caller-1"
    name = "Caller"
    metadata = ""
    attributes: ClassVar[dict[str, str]] = {}
    kind = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


class _AgentSession:
    """aclose() fires livekit's close event and returns at once, as AgentSession does
    when nothing is speaking."""

    def __init__(self, owner: LiveKitSession) -> None:
        self._owner = owner
        self.closes = 0

    async def aclose(self) -> None:
        self.closes += 1
        self._owner._on_close(lk.CloseEvent(reason=lk.CloseReason.USER_INITIATED))


def _session() -> tuple[LiveKitSession, _AgentSession]:
    session = LiveKitSession(
        room=cast(rtc.Room, _Room()),
        participant=cast(rtc.RemoteParticipant, _Participant()),
        parts=cast(PipelineParts, object()),  # only start() reads the parts
        relay_events=False,
    )
    agent = _AgentSession(session)
    session._session = cast(Any, agent)  # stands in for start()
    return session, agent


async def test_close_from_one_of_its_own_tasks_ends_the_session() -> None:
    """What max_session_duration does: close() in a task the session owns. The teardown
    that the close event starts cancels and awaits that very task; it must not wait
    for the teardown in turn (on Python 3.11 a cancelled wait_for whose inner future is
    already done returns normally, so the cancel may not stop it)."""
    session, agent = _session()
    history = session.events()
    session._spawn(session.close(), "omnivoice.max_duration_close")  # the path under test
    await asyncio.wait_for(session.wait_closed(), 5)
    assert agent.closes == 1
    assert session.pending_tasks() == []
    ended = [e async for e in history][-1]
    assert ended.type is EventType.SESSION_ENDED
    assert ended.data_as(SessionEnded).reason == "user_initiated"


async def test_every_caller_of_close_returns_once_it_is_torn_down() -> None:
    session, agent = _session()
    await asyncio.wait_for(asyncio.gather(session.close(), session.close(), session.aclose()), 5)
    assert session.closed
    assert agent.closes == 1
    assert session.pending_tasks() == []


async def test_a_cancelled_close_does_not_leave_the_session_half_closed() -> None:
    session, _agent = _session()
    closing = asyncio.ensure_future(session.close())
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.gather(closing, return_exceptions=True)
    await asyncio.wait_for(session.wait_closed(), 5)
    await asyncio.wait_for(session.close(), 5)  # and a later close returns


async def test_ending_a_phone_call_hangs_up_then_closes_with_the_reason() -> None:
    """The call flow's end (silence, max duration): hang up first, then close with the
    reason, from one of the session's own tasks."""
    from omnivoice_rtc.agent.call_flow import CallFlow

    hung_up: list[bool] = []

    async def hang_up() -> None:
        hung_up.append(True)

    session = LiveKitSession(
        room=cast(rtc.Room, _Room()),
        participant=cast(rtc.RemoteParticipant, _Participant()),
        parts=cast(PipelineParts, object()),
        relay_events=False,
        flow=CallFlow(hang_up=hang_up),
    )
    agent = _AgentSession(session)
    session._session = cast(Any, agent)
    history = session.events()
    session._spawn(session._end_call("silence_timeout"), "omnivoice.silence")
    await asyncio.wait_for(session.wait_closed(), 5)
    assert hung_up == [True]
    assert agent.closes == 1
    ended = [e async for e in history][-1]
    assert ended.data_as(SessionEnded).reason == "silence_timeout"
    assert session.pending_tasks() == []
