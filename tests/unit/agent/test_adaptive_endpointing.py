"""Adaptive endpointing: which transcripts read as finished, the turn-detector hook
livekit-agents calls, the VAD it is given, and the options' limits."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from omnivoice_rtc.agent.adaptive_endpointing import (
    LIKELY,
    THRESHOLD,
    UNLIKELY,
    TranscriptTurnDetector,
    adaptive_turn_handling,
    completion_probability,
    short_silence_vad,
    vad_silence_ms,
)
from omnivoice_rtc.pipelines.local import load_vad
from omnivoice_rtc.pipelines.parts import AdaptiveEndpointing

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text",
    [
        "What time is it?",
        "hello there how are you",  # a recognizer that writes no punctuation
        "Book it for tomorrow.",
        "What are you looking at?",  # a question ends even on a preposition
        "Yes!",
        "no",
        "I'd like a large pizza, please.",
    ],
)
def test_finished_utterances_end_the_turn_soon(text: str) -> None:
    assert completion_probability(text) == LIKELY > THRESHOLD


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "I'd like to order a",
        "I'd like to order a.",  # a full stop after a fragment decides nothing
        "my number is, um",
        "so I was thinking...",
        "and then…",
        "the address is:",
        "wait -",
        "Um.",
        "because",
        "123",
    ],
)
def test_unfinished_utterances_wait_longer(text: str) -> None:
    assert completion_probability(text) == UNLIKELY < THRESHOLD


async def test_the_detector_scores_the_last_user_message() -> None:
    detector = TranscriptTurnDetector()
    ctx = llm.ChatContext()
    assert await detector.predict_end_of_turn(ctx) == UNLIKELY  # nothing said yet
    ctx.add_message(role="user", content="I want to go to")
    ctx.add_message(role="assistant", content="Where to?")
    ctx.add_message(role="user", content="The station, and")
    assert await detector.predict_end_of_turn(ctx) == UNLIKELY
    ctx.add_message(role="user", content="The station.")
    assert await detector.predict_end_of_turn(ctx) == LIKELY
    assert await detector.unlikely_threshold(None) == THRESHOLD
    assert await detector.supports_language(None) is True


def test_turn_handling_counts_both_silences_from_the_last_speech() -> None:
    handling = adaptive_turn_handling(
        AdaptiveEndpointing(complete_silence_ms=250, incomplete_silence_ms=1200)
    )
    assert isinstance(handling["turn_detection"], TranscriptTurnDetector)
    assert handling["endpointing"] == {"mode": "fixed", "min_delay": 0.25, "max_delay": 1.2}


def test_the_short_silence_vad_shares_the_model_and_keeps_the_thresholds() -> None:
    vad = load_vad(min_silence_ms=400)
    short = short_silence_vad(vad, 200)
    assert short is not None
    assert short is not vad
    assert short.min_silence_duration == 0.192  # 6 windows: the turn ends at 200 ms
    assert vad.min_silence_duration == 0.4  # the shared VAD is left as it was
    assert short._opts.activation_threshold == vad._opts.activation_threshold
    assert short._opts.deactivation_threshold == 0.5  # silence counts from p < 0.5, not 0.35
    assert vad._opts.deactivation_threshold == pytest.approx(0.35)
    assert short._onnx_session is vad._onnx_session
    assert short_silence_vad(object(), 200) is None


@pytest.mark.parametrize(
    ("endpoint_ms", "vad_ms"), [(200, 192), (192, 160), (193, 192), (100, 96), (40, 32), (10, 32)]
)
def test_the_vad_ends_speech_one_window_before_the_endpoint(endpoint_ms: int, vad_ms: int) -> None:
    assert vad_silence_ms(endpoint_ms) == vad_ms


@pytest.mark.parametrize(
    ("complete", "incomplete", "message"),
    [
        (50, 900, "AdaptiveEndpointing.complete_silence_ms: must be 100-2000 ms; got 50"),
        (
            300,
            200,
            "AdaptiveEndpointing.incomplete_silence_ms: must be complete_silence_ms-10000 ms; got 200",
        ),
    ],
)
def test_options_out_of_range_are_refused(complete: int, incomplete: int, message: str) -> None:
    with pytest.raises(ValueError, match="AdaptiveEndpointing") as caught:
        AdaptiveEndpointing(complete_silence_ms=complete, incomplete_silence_ms=incomplete)
    assert str(caught.value) == message
