"""Interruption modes map onto livekit-agents turn-handling settings."""

from __future__ import annotations

import pytest

from omnivoice_rtc.agent.livekit_session import interruption_settings
from omnivoice_rtc.types import InterruptionMode

pytestmark = pytest.mark.unit


def test_interruption_modes() -> None:
    assert interruption_settings(InterruptionMode.DISABLED) == {"enabled": False}
    immediate = interruption_settings(InterruptionMode.IMMEDIATE)
    assert immediate["enabled"] is True
    assert immediate["mode"] == "vad"
    # pauses at once; livekit resumes it after a cough, BargeInCommit ends it for good
    assert immediate["min_duration"] == 0.25
    assert immediate["resume_false_interruption"] is True
    assert immediate["false_interruption_timeout"] == 1.5
    after = interruption_settings(InterruptionMode.AFTER_SENTENCE)
    assert after["min_words"] >= 2
    assert after["min_duration"] > immediate["min_duration"]


def test_a_mode_this_version_does_not_list_behaves_as_immediate() -> None:
    """A Go service's JSON may carry "" or a newer mode: the caller can still cut in."""
    immediate = interruption_settings(InterruptionMode.IMMEDIATE)
    assert interruption_settings(InterruptionMode("")) == immediate
    assert interruption_settings(InterruptionMode("after_a_pause")) == immediate
