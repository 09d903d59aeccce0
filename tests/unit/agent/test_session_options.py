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
    assert immediate["resume_false_interruption"] is False
    after = interruption_settings(InterruptionMode.AFTER_SENTENCE)
    assert after["min_words"] >= 2
    assert after["min_duration"] > immediate["min_duration"]
