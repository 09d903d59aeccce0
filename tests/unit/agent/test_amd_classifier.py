"""The offline answering-machine classifier: the phrase rules, and the stand-in LLM driving
livekit-agents' own AMD classifier to a verdict."""

from __future__ import annotations

import asyncio
import json

import pytest
from livekit.agents import llm
from livekit.agents.voice.amd import AMDCategory, AMDPredictionEvent
from livekit.agents.voice.amd.classifier import _AMDClassifier  # reason: the verdict logic AMD runs

from omnivoice_rtc.agent.amd_classifier import KeywordAMDLLM, classify_greeting

pytestmark = pytest.mark.unit

VOICEMAIL = (
    "Hi, you have reached Alex. I can't take your call right now. "
    "Please leave a message after the tone."
)


@pytest.mark.parametrize(
    ("transcript", "category"),
    [
        ("Hello?", AMDCategory.HUMAN),
        ("Yes, this is Sam.", AMDCategory.HUMAN),
        (VOICEMAIL, AMDCategory.MACHINE_VM),
        ("The person you are calling is not available.", AMDCategory.MACHINE_VM),
        ("You’ve reached the voicemail of Dana", AMDCategory.MACHINE_VM),
        ("The mailbox is full and cannot accept any messages.", AMDCategory.MACHINE_UNAVAILABLE),
        (
            "Thanks for calling Acme. For sales press 1, for support press two.",
            AMDCategory.MACHINE_IVR,
        ),
    ],
)
def test_phrases_decide_the_category(transcript: str, category: AMDCategory) -> None:
    assert classify_greeting(transcript) is category


@pytest.mark.parametrize(
    "transcript",
    ["", "   ", "Thank you for calling Truly Pizza in Dana Point, our hours are eleven to eight"],
)
def test_a_long_greeting_without_a_machine_phrase_is_undecided(transcript: str) -> None:
    assert classify_greeting(transcript) is None


async def _tool_calls(transcript: str, tools: list[llm.Tool]) -> list[llm.FunctionToolCall]:
    chat = llm.ChatContext.empty()
    chat.add_message(role="system", content="classify")
    chat.add_message(role="user", content=transcript)
    stream = KeywordAMDLLM().chat(chat_ctx=chat, tools=tools, tool_choice="required")
    async with stream:
        return (await stream.collect()).tool_calls


async def save_prediction(label: AMDCategory) -> None:
    """Save the prediction."""


async def postpone_termination(seconds: float) -> str:
    """Wait for more audio."""
    return ""


async def test_the_stand_in_llm_answers_with_the_tool_call_amd_expects() -> None:
    tools: list[llm.Tool] = [
        llm.function_tool(save_prediction),
        llm.function_tool(postpone_termination),
    ]
    [call] = await _tool_calls(VOICEMAIL, tools)
    assert (call.name, json.loads(call.arguments)) == ("save_prediction", {"label": "machine-vm"})
    [call] = await _tool_calls("Thank you for calling Truly Pizza in Dana Point today", tools)
    assert call.name == "postpone_termination"
    # no postponing left: no prediction at all (AMD's own timeout settles "uncertain")
    only_save: list[llm.Tool] = [llm.function_tool(save_prediction)]
    assert (
        await _tool_calls("Thank you for calling Truly Pizza in Dana Point today", only_save) == []
    )


async def _verdict(transcript: str, speech_s: float) -> AMDPredictionEvent:
    """Run livekit's classifier with the stand-in LLM as AMD does for one greeting."""
    classifier = _AMDClassifier(
        KeywordAMDLLM(),
        human_speech_threshold=1.0,
        human_silence_threshold=0.05,
        machine_silence_threshold=0.05,
        max_endpointing_delay=0.05,
        timeout=30,
    )
    verdicts: list[AMDPredictionEvent] = []
    classifier.on("amd_prediction", verdicts.append)
    classifier.start_detection_timer()
    classifier.start_listening()
    classifier.on_user_speech_started()
    classifier._speech_started_at -= speech_s  # type: ignore[operator]  # reason: speech of that length, without waiting for it
    classifier.push_text(transcript)
    classifier.on_user_speech_ended(0.0)
    classifier.on_end_of_turn()
    try:
        async with asyncio.timeout(10):
            await classifier._verdict_ready.wait()
    finally:
        await classifier.close()
    [verdict] = verdicts
    return verdict


async def test_livekit_amd_reaches_machine_for_a_voicemail_greeting() -> None:
    verdict = await _verdict(VOICEMAIL, speech_s=5.0)
    assert verdict.category is AMDCategory.MACHINE_VM
    assert verdict.is_machine
    assert verdict.reason == "llm"


async def test_livekit_amd_reaches_human_for_hello() -> None:
    verdict = await _verdict("Hello?", speech_s=1.5)
    assert verdict.category is AMDCategory.HUMAN
