"""The AgentSession a LiveKitSession starts: the interruption mode over the parts' own
turn handling, the defaults the parts do not set, the parts left as they were; and the
RoomIO options."""

from __future__ import annotations

import pytest
from livekit.agents import room_io

from omnivoice_rtc.agent.agent_session_setup import new_agent_session, room_options
from omnivoice_rtc.agent.room_audio_output import INPUT_FRAME_MS
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.types import InterruptionMode

pytestmark = pytest.mark.unit


async def test_the_interruption_mode_overrides_the_parts_interruption_settings() -> None:
    options = {
        "turn_handling": {
            "interruption": {"mode": "adaptive", "false_interruption_timeout": 3.0},
            "endpointing": {"min_delay": 0.2},
        },
        "aec_warmup_duration": 1.0,
    }
    parts = PipelineParts(name="text", session_options=options)
    session = new_agent_session(
        parts, interruption_mode=InterruptionMode.AFTER_SENTENCE, user_away_timeout_s=7.0
    )
    interruption = session.options.turn_handling["interruption"]
    assert interruption["mode"] == "vad"
    assert interruption["min_words"] == 2
    assert interruption["min_duration"] == 1.0
    assert interruption["false_interruption_timeout"] == 3.0  # the parts' own, kept
    assert session.options.turn_handling["endpointing"]["min_delay"] == 0.2
    assert session.options.aec_warmup_duration == 1.0  # set by the parts
    assert session.options.user_away_timeout == 7.0
    assert parts.session_options["turn_handling"]["interruption"] == {
        "mode": "adaptive",
        "false_interruption_timeout": 3.0,
    }


async def test_without_session_options_there_is_no_aec_warmup() -> None:
    session = new_agent_session(
        PipelineParts(name="text"),
        interruption_mode=InterruptionMode.DISABLED,
        user_away_timeout_s=None,
    )
    assert session.options.turn_handling["interruption"]["enabled"] is False
    assert session.options.aec_warmup_duration is None
    assert session.options.user_away_timeout is None


def test_room_options_follow_only_the_sessions_participant() -> None:
    options = room_options("caller-1", text_input=False)
    assert options.participant_identity == "caller-1"
    assert options.close_on_disconnect is True
    assert options.text_input is False
    assert options.audio_output is False
    assert isinstance(options.audio_input, room_io.AudioInputOptions)
    assert options.audio_input.frame_size_ms == INPUT_FRAME_MS == 50
    framed = room_options("caller-1", text_input=False, input_frame_ms=20).audio_input
    assert isinstance(framed, room_io.AudioInputOptions)
    assert framed.frame_size_ms == 20


async def test_adaptive_endpointing_replaces_a_fixed_vad_silence() -> None:
    from omnivoice_rtc.agent.adaptive_endpointing import TranscriptTurnDetector
    from omnivoice_rtc.pipelines.local import load_vad
    from omnivoice_rtc.pipelines.local.stt import local_stt

    vad = load_vad(min_silence_ms=400)
    parts = PipelineParts(
        name="local",
        stt=local_stt("pocketsphinx"),
        vad=vad,
        session_options={
            "turn_handling": {"turn_detection": "vad", "endpointing": {"min_delay": 0.3}}
        },
    )
    session = new_agent_session(
        parts, interruption_mode=InterruptionMode.IMMEDIATE, user_away_timeout_s=None
    )
    assert isinstance(session.turn_detection, TranscriptTurnDetector)
    endpointing = session.options.turn_handling["endpointing"]
    assert (endpointing["min_delay"], endpointing["max_delay"]) == (0.2, 0.9)
    from livekit.plugins import silero

    assert isinstance(session.vad, silero.VAD)
    assert session.vad.min_silence_duration == 0.192  # one window before the 200 ms endpoint
    assert vad.min_silence_duration == 0.4


async def test_fixed_endpointing_keeps_the_parts_vad_and_delays() -> None:
    from omnivoice_rtc.pipelines.local import load_vad
    from omnivoice_rtc.pipelines.local.stt import local_stt

    vad = load_vad(min_silence_ms=400)
    options = {"turn_handling": {"turn_detection": "vad", "endpointing": {"min_delay": 0.3}}}
    for parts in (
        PipelineParts(
            name="fixed",
            stt=local_stt("pocketsphinx"),
            vad=vad,
            session_options=options,
            endpointing=None,
        ),
        PipelineParts(name="no-stt", vad=vad, session_options=options),
    ):
        session = new_agent_session(
            parts, interruption_mode=InterruptionMode.IMMEDIATE, user_away_timeout_s=None
        )
        assert session.turn_detection == "vad"
        assert session.vad is vad
        assert session.options.turn_handling["endpointing"]["min_delay"] == 0.3
