"""Screening with livekit's AMD (omnivoice_rtc.agent.amd._ScreeningAMD) driven by livekit's
own classifier and the offline keyword LLM: no turn gets a reply while screening, a
person's verdict is withdrawn when the callee keeps talking, a beep decides a machine.

Found by CI: a voicemail greeting cut at its first pause was heard as "Hi, you can read."
(five words: a person's), the rest misheard ("I can't fake your call", "leave my method"),
so the call was greeted as a person's although the beep had been heard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit.agents.voice.amd import AMDCategory
from livekit.agents.voice.amd.classifier import _AMDClassifier  # reason: the verdict logic AMD runs

from omnivoice_rtc.agent.amd import (  # reason: the screening rules themselves
    REASON_BEEP,
    _ScreeningAMD,
    _verdict_or_beep,
)
from omnivoice_rtc.agent.amd_classifier import KeywordAMDLLM

pytestmark = pytest.mark.unit


class _Session:
    """What livekit's AMD reads of its session once a verdict is out."""

    def __init__(self) -> None:
        self._session_host = None
        self._activity = None
        self.interrupted = 0

    async def interrupt(self, *, force: bool = False) -> None:
        self.interrupted += 1


class _EndOfTurn:
    new_transcript = "Hello?"


@pytest.fixture
async def screening() -> AsyncIterator[_ScreeningAMD]:
    session: Any = _Session()
    amd = _ScreeningAMD(session, llm=KeywordAMDLLM(), stt=None, suppress_compatibility_warning=True)
    classifier = _AMDClassifier(KeywordAMDLLM(), human_speech_threshold=2.5, timeout=30)
    classifier.on("amd_prediction", amd._on_amd_prediction)
    amd._classifier = classifier
    classifier.start_detection_timer()
    classifier.start_listening()
    try:
        yield amd
    finally:
        await classifier.close()


def _classifier(amd: _ScreeningAMD) -> _AMDClassifier:
    assert amd._classifier is not None
    return amd._classifier


async def _until_pending(amd: _ScreeningAMD, category: AMDCategory) -> None:
    async with asyncio.timeout(5):
        while (pending := _classifier(amd)._verdict_result) is None or pending.category != category:  # noqa: ASYNC110 -- reason: livekit sets the verdict without an event
            await asyncio.sleep(0.01)


async def test_no_turn_gets_a_reply_of_its_own_while_screening(screening: _ScreeningAMD) -> None:
    assert screening._result is None
    assert screening._on_end_of_turn(_EndOfTurn()) is True  # before any verdict too
    screening._closed = True
    assert screening._on_end_of_turn(_EndOfTurn()) is False


async def test_a_person_who_keeps_talking_is_no_longer_taken_for_a_person(
    screening: _ScreeningAMD,
) -> None:
    screening._on_user_speech_started()
    screening._on_transcript("Hi, you can read.")
    await _until_pending(screening, AMDCategory.HUMAN)  # five words: a short answer
    screening._on_transcript("A brief phallic. I can't fake your call right now.")
    assert _classifier(screening)._verdict_result is None
    await asyncio.sleep(0.2)  # the longer transcript is undecided: no verdict comes back
    assert _classifier(screening)._verdict_result is None
    assert screening._result is None


async def test_a_short_answer_again_is_a_persons_again(screening: _ScreeningAMD) -> None:
    screening._on_user_speech_started()
    screening._on_transcript("Hello?")
    await _until_pending(screening, AMDCategory.HUMAN)
    screening._on_transcript("Hello?")
    await _until_pending(screening, AMDCategory.HUMAN)


async def test_a_beep_before_a_verdict_decides_a_machine(screening: _ScreeningAMD) -> None:
    screening._on_user_speech_started()
    screening._on_transcript("Hi, you can read.")
    await _until_pending(screening, AMDCategory.HUMAN)
    beep = asyncio.Event()
    verdict = asyncio.create_task(_verdict_or_beep(screening, beep))
    await asyncio.sleep(0.05)
    assert not verdict.done()  # a person's verdict waits for silence after the speech
    beep.set()
    async with asyncio.timeout(5):
        result = await verdict
    assert result.category is AMDCategory.MACHINE_VM
    assert result.reason == REASON_BEEP
    assert result.transcript == "Hi, you can read."
    assert screening._session.interrupted == 1  # type: ignore[attr-defined]  # reason: the stand-in's counter


async def test_without_a_beep_the_classifiers_verdict_stands(screening: _ScreeningAMD) -> None:
    screening._on_user_speech_started()
    screening._on_transcript("You have reached Alex, please leave a message after the tone.")
    screening._on_user_speech_ended(2.0)  # the machine silence (1.5 s) has passed
    screening._on_end_of_turn(_EndOfTurn())
    async with asyncio.timeout(5):
        result = await _verdict_or_beep(screening, asyncio.Event())
    assert result.category is AMDCategory.MACHINE_VM
    assert result.reason == "llm"
