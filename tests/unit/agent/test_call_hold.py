"""CallHold on an AgentSession: hold stops listening and plays the hold audio as an
uninterruptible speech outside the chat; resume stops it and listens again."""

from __future__ import annotations

from typing import Any, cast

import pytest
from livekit.agents import AgentSession

from omnivoice_rtc.agent.call_hold import apply_call_command, hold_of

pytestmark = pytest.mark.unit


class _Handle:
    def __init__(self) -> None:
        self.interrupted_by_force = False

    def interrupt(self, *, force: bool = False) -> _Handle:
        self.interrupted_by_force = force
        return self


class _Input:
    def __init__(self) -> None:
        self.audio_enabled = True

    def set_audio_enabled(self, enable: bool) -> None:
        self.audio_enabled = enable


class _Session:
    def __init__(self) -> None:
        self.input = _Input()
        self.interrupts = 0
        self.says: list[dict[str, Any]] = []
        self.handle = _Handle()

    def interrupt(self, *, force: bool = False) -> None:
        self.interrupts += 1

    def say(self, text: str, **kwargs: Any) -> _Handle:
        self.says.append({"text": text, **kwargs})
        return self.handle


async def test_hold_then_resume() -> None:
    fake = _Session()
    session = cast(AgentSession[Any], fake)
    hold = hold_of(session)
    assert hold_of(session) is hold  # one per session
    await apply_call_command(session, "hold", "")
    assert hold.held
    assert fake.interrupts == 1
    assert not fake.input.audio_enabled
    (music,) = fake.says
    assert (music["allow_interruptions"], music["add_to_chat_ctx"]) == (False, False)
    frames = music["audio"].__aiter__()
    frame = await frames.__anext__()  # 20 ms at 24 kHz, the generated chime
    assert (frame.sample_rate, frame.samples_per_channel) == (24000, 480)
    await apply_call_command(session, "hold", "")  # already held: nothing more
    assert len(fake.says) == 1
    await apply_call_command(session, "resume", "")
    assert not hold.held
    assert fake.handle.interrupted_by_force
    assert fake.input.audio_enabled
    await apply_call_command(None, "hold", "")  # no running session: logged, nothing else
