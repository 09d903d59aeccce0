"""RealtimeBridge construction and misuse (no sockets: the model is never connected)."""

from __future__ import annotations

import pytest
from livekit.plugins.openai import realtime

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.audio.format import GEMINI_INPUT, OPENAI, TWILIO, AudioEncoding, AudioFormat
from omnivoice_rtc.realtime_bridge import RealtimeBridge
from omnivoice_rtc.types import BridgeConfig, ProcessConfig

pytestmark = pytest.mark.unit


def model() -> realtime.RealtimeModel:
    return realtime.RealtimeModel(base_url="http://127.0.0.1:9/v1", api_key="test")


def test_for_twilio_is_mulaw_8k_to_openai_24k() -> None:
    bridge = RealtimeBridge.for_twilio(model(), ProcessConfig(instructions="hi"))
    assert bridge.config.from_format == TWILIO
    assert bridge.config.to_format == OPENAI
    assert bridge.config.process_config.instructions == "hi"
    assert bridge.config.buffer_size == 100


def test_for_twilio_gemini_is_mulaw_8k_to_gemini_16k() -> None:
    bridge = RealtimeBridge.for_twilio_gemini(model(), ProcessConfig())
    assert bridge.config.from_format == TWILIO
    assert bridge.config.to_format == GEMINI_INPUT


def test_provider_must_be_a_realtime_model() -> None:
    with pytest.raises(
        ValueError,
        match=r"^BridgeConfig.provider: expected a livekit.agents.llm.RealtimeModel, got NoneType$",
    ):
        RealtimeBridge(config=BridgeConfig())


def test_model_side_must_be_pcm16() -> None:
    with pytest.raises(ValueError, match=r"^BridgeConfig.to_format: a realtime model takes PCM16"):
        RealtimeBridge(
            config=BridgeConfig(provider=model(), to_format=AudioFormat(AudioEncoding.MULAW, 8000))
        )


def test_unsupported_telephony_rate_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unsupported sample rate 11025 Hz"):
        RealtimeBridge(
            config=BridgeConfig(
                provider=model(), from_format=AudioFormat(AudioEncoding.PCM16, 11025)
            )
        )


def test_send_audio_before_start_raises() -> None:
    bridge = RealtimeBridge.for_twilio(model())
    with pytest.raises(
        SessionClosedError, match=r"^RealtimeBridge.send_audio: the bridge is not running$"
    ):
        bridge.send_audio(b"\xff" * 160)


async def test_closed_bridge_cannot_start_and_its_iterators_end() -> None:
    bridge = RealtimeBridge.for_twilio(model())
    await bridge.aclose()
    with pytest.raises(SessionClosedError, match=r"^RealtimeBridge.start: the bridge is closed$"):
        await bridge.start()
    assert [chunk async for chunk in bridge.audio_out()] == []
    assert [e.type.value async for e in bridge.events()] == ["session_ended"]
    bridge.interrupt()  # a no-op once closed
    assert bridge.metrics().interruption_count == 0


def test_a_config_read_from_go_json_must_name_its_formats() -> None:
    """Go's zero AudioFormat reads as unset; the bridge refuses to guess one."""
    zero = {"Encoding": "", "SampleRate": 0, "Channels": 0}
    config = BridgeConfig.from_dict({"FromFormat": zero, "ToFormat": zero})
    config.provider = model()
    with pytest.raises(ValueError, match=r"^BridgeConfig: from_format and to_format must be set$"):
        RealtimeBridge(config=config)


def test_a_non_positive_buffer_size_from_json_gets_go_s_default() -> None:
    config = BridgeConfig.from_dict({"BufferSize": -5})
    assert config.buffer_size == -5  # kept as Go wrote it
    config.provider = model()
    bridge = RealtimeBridge(config=config)
    assert bridge._reply.capacity == 100  # not unbounded
