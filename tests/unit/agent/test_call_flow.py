"""CallFlowDriver: the greeting waits for a SIP answer, silence gets one prompt then a polite
end, speech in between keeps the call. A stand-in AgentSession records what is said."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

import pytest
from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.types import NOT_GIVEN
from livekit.agents.utils import EventEmitter
from livekit.agents.voice import events as lk

from omnivoice_rtc.agent.agent_spec import SilenceHandling
from omnivoice_rtc.agent.call_flow import CallFlow, CallFlowDriver, speak
from tests.unit.agent.test_seed_config import FakeRealtimeModel

pytestmark = pytest.mark.unit


class _Handle:
    async def wait_for_playout(self) -> None:
        await asyncio.sleep(0)


class _Agent:
    tts = NOT_GIVEN
    llm = NOT_GIVEN


class _Session(EventEmitter[str]):
    def __init__(self, *, tts: object = object(), model: object = None) -> None:
        super().__init__()
        self.current_agent = _Agent()
        self.tts = tts
        self.llm = model
        self.said: list[tuple[str, object]] = []
        self.replies: list[str] = []
        self.interrupts = 0

    def say(self, text: str, *, allow_interruptions: object = NOT_GIVEN) -> _Handle:
        self.said.append((text, allow_interruptions))
        return _Handle()

    def generate_reply(
        self, *, instructions: str, allow_interruptions: object = NOT_GIVEN
    ) -> _Handle:
        self.replies.append(instructions)
        return _Handle()

    def interrupt(self, *, force: bool = False) -> None:
        self.interrupts += 1


class _Participant:
    identity = "caller-1"

    def __init__(self, attributes: dict[str, str]) -> None:
        self.attributes = attributes


class _Harness:
    def __init__(self, flow: CallFlow, *, attributes: dict[str, str] | None = None) -> None:
        self.session = _Session()
        self.room = EventEmitter[str]()
        self.participant = _Participant(attributes or {})
        self.tasks: list[asyncio.Task[None]] = []
        self.ended: list[str] = []
        self.driver = CallFlowDriver(
            flow=flow,
            session=cast(AgentSession[Any], self.session),
            room=cast(rtc.Room, self.room),
            participant=cast(rtc.RemoteParticipant, self.participant),
            spawn=self._spawn,
            end_call=self._end,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.ensure_future(coro))

    async def _end(self, reason: str) -> None:
        self.ended.append(reason)

    def user(self, state: str) -> None:
        self.session.emit(
            "user_state_changed",
            lk.UserStateChangedEvent(old_state="listening", new_state=state),  # type: ignore[arg-type]  # reason: states are literals
        )

    async def settle(self) -> None:
        await asyncio.wait_for(asyncio.gather(*self.tasks), 5)


async def test_the_greeting_is_said_at_once_off_sip() -> None:
    h = _Harness(CallFlow(greeting="Hello, Acme here."))
    h.driver.start()
    await h.settle()
    assert h.session.said == [("Hello, Acme here.", NOT_GIVEN)]
    assert h.driver.greeted_at is not None


async def test_a_sip_greeting_waits_until_the_call_is_active() -> None:
    h = _Harness(
        CallFlow(greeting="Hi!", wait_for_sip_answer=True), attributes={"sip.callStatus": "ringing"}
    )
    h.driver.start()
    await asyncio.sleep(0.05)
    assert h.session.said == []
    h.participant.attributes["sip.callStatus"] = "active"
    h.room.emit("participant_attributes_changed", {"sip.callStatus": "active"}, h.participant)
    await h.settle()
    assert h.session.said == [("Hi!", NOT_GIVEN)]


async def test_silence_prompts_once_then_ends_the_call_politely() -> None:
    silence = SilenceHandling(timeout_s=0.05, prompt="Still there?", goodbye="Bye now.")
    h = _Harness(CallFlow(silence=silence))
    assert h.driver._flow.user_away_timeout_s == 0.05
    h.driver.start()
    h.user("away")
    h.user("away")  # a second away while prompting starts nothing new
    await h.settle()
    assert h.session.said == [("Still there?", NOT_GIVEN), ("Bye now.", False)]
    assert h.ended == ["silence_timeout"]


async def test_speech_after_the_prompt_keeps_the_call() -> None:
    h = _Harness(CallFlow(silence=SilenceHandling(timeout_s=1.0)))
    h.driver.start()
    h.user("away")
    await asyncio.sleep(0.05)
    h.user("speaking")
    await h.settle()
    assert [text for text, _ in h.session.said] == ["Are you still there?"]
    assert h.ended == []


async def test_no_silence_handling_ignores_away() -> None:
    h = _Harness(CallFlow())
    assert h.driver._flow.user_away_timeout_s is None
    h.driver.start()
    h.user("away")
    await asyncio.sleep(0.01)
    assert h.tasks == []


async def test_a_realtime_model_without_tts_is_asked_to_say_the_text() -> None:
    session = _Session(tts=None, model=FakeRealtimeModel())
    await speak(cast(AgentSession[Any], session), "Welcome!")
    assert session.said == []
    assert session.replies == ["Say exactly this to the user, and nothing else: Welcome!"]
