"""build_text and the per-part builders: providers by name, base URLs, keys (no sockets)."""

from __future__ import annotations

import pytest
from livekit.plugins import google, openai, silero
from livekit.plugins.google import beta

from omnivoice_rtc import ConfigError
from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter
from omnivoice_rtc.pipelines.text import build_llm, build_stt, build_text, build_tts
from omnivoice_rtc.types import (
    LLMOptions,
    STTOptions,
    TextPipelineOptions,
    ToolCall,
    TTSOptions,
    Turn,
)

pytestmark = pytest.mark.unit

SELF_HOSTED = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _openai_options(base_url: str = SELF_HOSTED) -> TextPipelineOptions:
    return TextPipelineOptions(
        stt=STTOptions(provider="openai", api_key="k", base_url=base_url),
        llm=LLMOptions(
            provider="openai", api_key="k", base_url=base_url, system_prompt="Be terse."
        ),
        tts=TTSOptions(provider="openai", api_key="k", base_url=base_url, voice_id="alloy"),
    )


def test_openai_text_pipeline_uses_the_base_url_everywhere() -> None:
    parts = build_text(_openai_options())
    assert parts.name == "text"
    assert isinstance(parts.stt, openai.STT)
    assert isinstance(parts.llm, openai.LLM)
    assert isinstance(parts.tts, openai.TTS)
    assert isinstance(parts.vad, silero.VAD)
    assert str(parts.stt._client.base_url) == SELF_HOSTED + "/"
    assert str(parts.llm._client.base_url) == SELF_HOSTED + "/"
    assert str(parts.tts._client.base_url) == SELF_HOSTED + "/"
    assert parts.tts._opts.response_format == "pcm"
    assert parts.tts._opts.voice == "alloy"
    assert parts.instructions == "Be terse."


def test_models_are_passed_through() -> None:
    stt = build_stt(STTOptions(provider="openai", api_key="k", model="whisper-1", language="de"))
    llm = build_llm(LLMOptions(provider="openai", api_key="k", model="llama-3.1-8b"))
    tts = build_tts(TTSOptions(provider="openai", api_key="k", model="tts-1"))
    assert isinstance(stt, openai.STT)
    assert isinstance(llm, openai.LLM)
    assert isinstance(tts, openai.TTS)
    assert stt._opts.model == "whisper-1"
    assert llm.model == "llama-3.1-8b"
    assert tts._opts.model == "tts-1"


def test_empty_provider_means_openai() -> None:
    assert isinstance(build_llm(LLMOptions(api_key="k")), openai.LLM)


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        (TextPipelineOptions(stt=STTOptions(provider="azure")), "STTOptions.provider"),
        (
            TextPipelineOptions(stt=STTOptions(api_key="k"), llm=LLMOptions(provider="claude")),
            "LLMOptions.provider",
        ),
        (
            TextPipelineOptions(
                stt=STTOptions(api_key="k"),
                llm=LLMOptions(api_key="k"),
                tts=TTSOptions(provider="x"),
            ),
            "TTSOptions.provider",
        ),
    ],
)
def test_unknown_provider_names_the_setting(options: TextPipelineOptions, setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_text(options)
    assert str(info.value).startswith(setting)
    assert "expected one of openai, google" in str(info.value)


def test_missing_openai_key_names_the_env_var() -> None:
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY: not set; the openai STT"):
        build_stt(STTOptions(provider="openai"))
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY: not set; the openai LLM"):
        build_llm(LLMOptions(provider="openai", base_url="https://api.openai.com/v1"))


def test_missing_google_key_names_the_env_var() -> None:
    with pytest.raises(ConfigError, match=r"^GOOGLE_API_KEY: not set; the google TTS"):
        build_tts(TTSOptions(provider="google"))


def test_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    llm = build_llm(LLMOptions(provider="openai"))
    assert isinstance(llm, openai.LLM)
    assert llm._client.api_key == "sk-env"


def test_self_hosted_openai_compatible_server_needs_no_key() -> None:
    llm = build_llm(LLMOptions(provider="openai", base_url=SELF_HOSTED))
    assert isinstance(llm, openai.LLM)
    assert str(llm._client.base_url) == SELF_HOSTED + "/"


def test_google_providers() -> None:
    options = TextPipelineOptions(
        stt=STTOptions(provider="google", api_key="g", base_url="https://127.0.0.1:9"),
        llm=LLMOptions(provider="google", api_key="g", model="gemini-2.5-flash"),
        tts=TTSOptions(provider="google", api_key="g", voice_id="Puck"),
    )
    parts = build_text(options)
    assert isinstance(parts.stt, beta.GeminiSTT)
    assert isinstance(parts.llm, google.LLM)
    assert isinstance(parts.tts, beta.GeminiTTS)
    assert parts.llm.model == "gemini-2.5-flash"


def test_google_tts_refuses_a_base_url() -> None:
    with pytest.raises(ConfigError, match=r"^TTSOptions\.base_url .*GOOGLE_GEMINI_BASE_URL"):
        build_tts(TTSOptions(provider="google", api_key="g", base_url="https://127.0.0.1:9"))


def test_llm_provider_replaces_the_llm() -> None:
    async def generate(input: str, history: list[Turn]) -> tuple[str, list[ToolCall]]:
        return input, []

    options = _openai_options()
    options.llm = LLMOptions(provider="not-checked-when-a-provider-is-given")
    parts = build_text(options, llm_provider=generate)
    assert isinstance(parts.llm, LLMProviderAdapter)
