"""BargeInCommit ends the current reply once the user has talked over it long enough,
and leaves it alone for a short sound or a reply that may not be interrupted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from livekit.agents import UserStateChangedEvent

from omnivoice_rtc.agent.barge_in import BargeInCommit

pytestmark = pytest.mark.unit


@dataclass
class _Speech:
    allow_interruptions: bool = True
    interrupted: bool = False
    id: str = "speech_1"

    def done(self) -> bool:
        return False

    def interrupt(self) -> None:
        self.interrupted = True


@dataclass
class _Session:
    current_speech: _Speech | None = field(default_factory=_Speech)


def _user(state: str) -> UserStateChangedEvent:
    return UserStateChangedEvent(old_state="listening", new_state=cast(Any, state))


async def test_speech_past_the_threshold_ends_the_reply() -> None:
    session = _Session()
    commit = BargeInCommit(cast(Any, session), commit_after_s=0.1)
    commit.on_user_state(_user("speaking"))
    await asyncio.sleep(0.2)
    assert session.current_speech is not None
    assert session.current_speech.interrupted
    assert commit.committed == 1
    await commit.aclose()


async def test_a_short_sound_does_not() -> None:
    session = _Session()
    commit = BargeInCommit(cast(Any, session), commit_after_s=0.2)
    commit.on_user_state(_user("speaking"))
    await asyncio.sleep(0.05)
    commit.on_user_state(_user("listening"))
    await asyncio.sleep(0.25)
    assert session.current_speech is not None
    assert not session.current_speech.interrupted
    assert commit.committed == 0
    await commit.aclose()


async def test_an_uninterruptible_reply_or_none_is_left_alone() -> None:
    for session in (_Session(current_speech=_Speech(allow_interruptions=False)), _Session(None)):
        commit = BargeInCommit(cast(Any, session), commit_after_s=0.05)
        commit.on_user_state(_user("speaking"))
        await asyncio.sleep(0.1)
        assert commit.committed == 0
        await commit.aclose()


async def test_aclose_cancels_a_pending_timer() -> None:
    session = _Session()
    commit = BargeInCommit(cast(Any, session), commit_after_s=10)
    commit.on_user_state(_user("speaking"))
    await commit.aclose()
    assert session.current_speech is not None
    assert not session.current_speech.interrupted
