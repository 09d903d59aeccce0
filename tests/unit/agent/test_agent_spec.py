"""AgentSpec: normalised fields, validation and layering over defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from omnivoice_rtc.agent.agent_spec import AgentSpec, Greeting, SilenceHandling
from omnivoice_rtc.types import InterruptionMode, PipelineMode

pytestmark = pytest.mark.unit


def test_shorthands_are_normalised() -> None:
    spec = AgentSpec(
        tools=[print],
        greeting="Hello!",
        pipeline="Realtime",
        max_call_duration=90,
        silence=7.5,
        interruption_mode="after_sentence",
    )
    assert spec.tools == (print,)
    assert spec.greeting_texts == Greeting(inbound="Hello!", outbound="Hello!")
    assert spec.pipeline is PipelineMode.REALTIME
    assert spec.max_duration == timedelta(seconds=90)
    assert spec.silence_handling == SilenceHandling(timeout_s=7.5)
    assert spec.interruption is InterruptionMode.AFTER_SENTENCE


def test_greeting_per_direction() -> None:
    greeting = Greeting(inbound="Acme, how can I help?", outbound="Hello, Acme calling.")
    assert greeting.text_for("inbound") == "Acme, how can I help?"
    assert greeting.text_for("outbound") == "Hello, Acme calling."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pipeline": "fast"}, "unknown pipeline 'fast'"),
        ({"max_call_duration": -1}, "max_call_duration: must be >= 0"),
        ({"silence": -2}, "timeout_s: must be within 0..3600"),
        ({"interruption_mode": "sometimes"}, "interruption_mode: must be one of"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        AgentSpec(**kwargs)  # type: ignore[arg-type]  # reason: bad values under test


def test_over_fills_only_what_is_unset() -> None:
    base = AgentSpec(
        instructions="base",
        greeting="Hi",
        silence=SilenceHandling(timeout_s=10, prompt="Hello?"),
        max_call_duration=600,
        interruption_mode="disabled",
        voice="alloy",
    )
    mine = AgentSpec(instructions="mine", silence=0)
    merged = mine.over(base)
    assert merged.instructions == "mine"
    assert merged.greeting_texts == Greeting(inbound="Hi", outbound="Hi")
    assert merged.silence_handling == SilenceHandling(timeout_s=0)  # explicitly off
    assert not merged.silence_handling.enabled
    assert merged.max_duration == timedelta(seconds=600)
    assert merged.interruption is InterruptionMode.DISABLED
    assert merged.voice == "alloy"
    # an explicit empty Greeting turns the default greeting off
    assert AgentSpec(greeting=Greeting()).over(base).greeting_texts == Greeting()
    # an explicit 0 is unlimited, not "unset"
    assert AgentSpec(max_call_duration=0).over(base).max_duration == timedelta(0)
