"""Choosing a pipeline from the environment; errors name the variable."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError, PipelineMode, RealtimeConfig, WebRTCConfig
from omnivoice_rtc.agent.job import AgentSettings
from omnivoice_rtc.pipelines.factory import (
    PipelineSettings,
    build_pipeline,
    pipeline_settings_from_webrtc_config,
)
from omnivoice_rtc.types import InterruptionMode
from tests.conftest import require_binary

pytestmark = pytest.mark.unit


def test_default_is_local_without_keys() -> None:
    settings = PipelineSettings.from_env({})
    assert settings.mode is PipelineMode.LOCAL
    require_binary("espeak-ng")
    assert build_pipeline(settings).name == "local"


def test_a_key_selects_realtime_with_that_provider() -> None:
    openai = PipelineSettings.from_env({"OPENAI_API_KEY": "sk-x"})
    assert openai.mode is PipelineMode.REALTIME
    assert openai.realtime is not None
    assert (openai.realtime.provider, openai.realtime.api_key) == ("openai", "sk-x")
    gemini = PipelineSettings.from_env(
        {"GOOGLE_API_KEY": "g-x", "OMNIVOICE_REALTIME_BASE_URL": "http://127.0.0.1:9"}
    )
    assert gemini.realtime is not None
    assert gemini.realtime.provider == "gemini"
    assert gemini.realtime.base_url == "http://127.0.0.1:9"


def test_text_pipeline_options_from_env() -> None:
    settings = PipelineSettings.from_env(
        {
            "OMNIVOICE_PIPELINE": "text",
            "OPENAI_API_KEY": "sk",
            "OMNIVOICE_LLM_BASE_URL": "http://127.0.0.1:8000/v1",
            "OMNIVOICE_LLM_MODEL": "local-model",
            "OMNIVOICE_TTS_VOICE": "alloy",
            "OMNIVOICE_INSTRUCTIONS": "Be brief.",
        }
    )
    assert settings.text is not None
    assert settings.text.llm.base_url == "http://127.0.0.1:8000/v1"
    assert settings.text.llm.model == "local-model"
    assert settings.text.llm.system_prompt == "Be brief."
    assert settings.text.tts.voice_id == "alloy"
    assert settings.text.stt.api_key == "sk"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OMNIVOICE_PIPELINE": "magic"}, "OMNIVOICE_PIPELINE"),
        ({"OMNIVOICE_PIPELINE": "realtime"}, "OPENAI_API_KEY"),
        (
            {"OMNIVOICE_PIPELINE": "realtime", "OMNIVOICE_REALTIME_PROVIDER": "gemini"},
            "GOOGLE_API_KEY",
        ),
        (
            {"OPENAI_API_KEY": "k", "OMNIVOICE_REALTIME_PROVIDER": "acme"},
            "OMNIVOICE_REALTIME_PROVIDER",
        ),
        (
            {"OMNIVOICE_PIPELINE": "text", "OPENAI_API_KEY": "k", "OMNIVOICE_TTS_PROVIDER": "acme"},
            "OMNIVOICE_TTS_PROVIDER",
        ),
        (
            {
                "OMNIVOICE_PIPELINE": "text",
                "OPENAI_API_KEY": "k",
                "OMNIVOICE_STT_PROVIDER": "google",
            },
            "GOOGLE_API_KEY",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PipelineSettings.from_env(env)


def test_from_webrtc_config() -> None:
    assert pipeline_settings_from_webrtc_config(WebRTCConfig()).mode is PipelineMode.LOCAL
    with pytest.raises(ConfigError, match="realtime_config"):
        pipeline_settings_from_webrtc_config(WebRTCConfig(mode=PipelineMode.REALTIME))
    cfg = WebRTCConfig(
        mode=PipelineMode.REALTIME, realtime_config=RealtimeConfig(api_key="k", instructions="Hi")
    )
    assert pipeline_settings_from_webrtc_config(cfg).instructions == "Hi"


def test_agent_settings_from_env() -> None:
    settings = AgentSettings.from_env(
        {
            "OMNIVOICE_AGENT_NAME": "front-desk",
            "OMNIVOICE_INTERRUPTION_MODE": "after_sentence",
            "OMNIVOICE_MAX_SESSION_DURATION_S": "90",
        }
    )
    assert settings.agent_name == "front-desk"
    assert settings.session.interruption_mode is InterruptionMode.AFTER_SENTENCE
    assert settings.session.max_session_duration.total_seconds() == 90
    with pytest.raises(ConfigError, match="OMNIVOICE_INTERRUPTION_MODE"):
        AgentSettings.from_env({"OMNIVOICE_INTERRUPTION_MODE": "sometimes"})
    with pytest.raises(ConfigError, match="OMNIVOICE_MAX_SESSION_DURATION_S"):
        AgentSettings.from_env({"OMNIVOICE_MAX_SESSION_DURATION_S": "-1"})


class AcmeFactory:
    """A user-registered realtime provider (RealtimeProviderFactory protocol)."""

    name = "acme"

    def create(self, config: RealtimeConfig) -> object:
        raise NotImplementedError


def test_registered_realtime_provider_is_accepted() -> None:
    from omnivoice_rtc.pipelines.registry import (
        register_realtime_provider,
        unregister_realtime_provider,
    )

    register_realtime_provider(AcmeFactory())
    try:
        settings = PipelineSettings.from_env(
            {"OMNIVOICE_PIPELINE": "realtime", "OMNIVOICE_REALTIME_PROVIDER": "acme"}
        )
        assert settings.realtime is not None
        assert settings.realtime.provider == "acme"
        assert settings.realtime.api_key == ""
    finally:
        unregister_realtime_provider("acme")


def test_the_input_frame_is_livekits_50_ms_unless_set() -> None:
    require_binary("espeak-ng")
    assert build_pipeline(PipelineSettings.from_env({})).input_frame_ms == 50
    faster = PipelineSettings.from_env({"OMNIVOICE_INPUT_FRAME_MS": "20"})
    assert build_pipeline(faster).input_frame_ms == 20
    with pytest.raises(ConfigError, match="OMNIVOICE_INPUT_FRAME_MS"):
        PipelineSettings.from_env({"OMNIVOICE_INPUT_FRAME_MS": "5"})


def test_endpointing_is_adaptive_unless_fixed_is_asked_for() -> None:
    from omnivoice_rtc.pipelines.parts import AdaptiveEndpointing

    require_binary("espeak-ng")
    assert build_pipeline(PipelineSettings.from_env({})).endpointing == AdaptiveEndpointing()
    tuned = PipelineSettings.from_env(
        {"OMNIVOICE_ENDPOINTING_SHORT_MS": "250", "OMNIVOICE_ENDPOINTING_LONG_MS": "1500"}
    )
    assert build_pipeline(tuned).endpointing == AdaptiveEndpointing(
        complete_silence_ms=250, incomplete_silence_ms=1500
    )
    fixed = PipelineSettings.from_env({"OMNIVOICE_ENDPOINTING": "fixed"})
    assert build_pipeline(fixed).endpointing is None
    backwards = PipelineSettings.from_env(
        {"OMNIVOICE_ENDPOINTING_SHORT_MS": "500", "OMNIVOICE_ENDPOINTING_LONG_MS": "300"}
    )
    with pytest.raises(ConfigError, match="OMNIVOICE_ENDPOINTING_LONG_MS: must be >= "):
        build_pipeline(backwards)
    with pytest.raises(ConfigError, match="OMNIVOICE_ENDPOINTING"):
        PipelineSettings.from_env({"OMNIVOICE_ENDPOINTING": "smart"})
