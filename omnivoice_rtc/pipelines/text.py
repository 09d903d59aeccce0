"""The ``text`` pipeline: STT → LLM → TTS, each provider chosen by name.

Providers:

========  =========================================  ==================================
name      STT / LLM / TTS                             endpoint override
========  =========================================  ==================================
openai    ``livekit.plugins.openai`` STT (transcriptions), LLM (chat completions),
          TTS (speech, ``pcm`` at 24 kHz). Any OpenAI-compatible server works
          through ``base_url`` (e.g. a self-hosted ``http://host:8000/v1``).
                                                      ``*.base_url`` or ``OPENAI_BASE_URL``
google    Gemini API through google-genai: ``beta.GeminiSTT`` (Live transcription),
          ``google.LLM``, ``beta.GeminiTTS``.         ``*.base_url`` (STT, LLM) or
                                                      ``GOOGLE_GEMINI_BASE_URL`` (all)
========  =========================================  ==================================

Keys: the option's ``api_key``, else ``OPENAI_API_KEY`` / ``GOOGLE_API_KEY``. A missing key
raises :class:`~omnivoice_rtc.ConfigError` naming the variable; an OpenAI-compatible
``base_url`` that is not api.openai.com needs no key (self-hosted servers often have none).

With ``llm_provider`` given, the LLM is an :class:`LLMProviderAdapter` around it and the
LLM options are ignored. The OpenAI transcription endpoint is not streaming, so the
pipeline includes silero VAD (livekit-agents segments speech with it); the instance is
shared by every session of the process (``pipelines.local.load_vad``).
"""

from __future__ import annotations

from typing import Any

from livekit.agents import llm, stt, tts

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.pipelines.llm_adapter import GenerateFunction, LLMProviderAdapter
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import environment
from omnivoice_rtc.types.config import LLMOptions, STTOptions, TextPipelineOptions, TTSOptions
from omnivoice_rtc.types.protocols import LLMProvider

__all__ = ["TEXT_PROVIDERS", "build_llm", "build_stt", "build_text", "build_tts"]

TEXT_PROVIDERS = ("openai", "google")
_KEY_ENV = {"openai": "OPENAI_API_KEY", "google": "GOOGLE_API_KEY"}
_DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Keep answers short."
_NO_KEY = "no-key"  # sent to self-hosted OpenAI-compatible servers that need none

OPENAI_STT_MODEL = "gpt-4o-mini-transcribe"
OPENAI_LLM_MODEL = "gpt-4.1-mini"
OPENAI_TTS_MODEL = "gpt-4o-mini-tts"
OPENAI_TTS_VOICE = "ash"


def _provider(name: str, setting: str) -> str:
    value = (name or "openai").strip().lower()
    if value not in TEXT_PROVIDERS:
        raise ConfigError(
            f"{setting}: unknown provider {name!r}; expected one of {', '.join(TEXT_PROVIDERS)}"
        )
    return value


def _key(provider: str, explicit: str, base_url: str, what: str, setting: str) -> str:
    if explicit:
        return explicit
    env_name = _KEY_ENV[provider]
    if value := environment().get(env_name, "").strip():
        return value
    if provider == "openai":
        effective = base_url or environment().get("OPENAI_BASE_URL", "")
        if effective and "api.openai.com" not in effective:
            return _NO_KEY
    raise ConfigError(
        f"{env_name}: not set; the {provider} {what} needs an API key (set {env_name} or {setting})"
    )


def _http_options(base_url: str) -> Any:
    from google.genai import types as genai_types

    return genai_types.HttpOptions(base_url=base_url) if base_url else None


def build_stt(options: STTOptions) -> stt.STT[Any]:
    """The STT named by ``options.provider`` (``STTOptions.provider`` / OMNIVOICE_STT_PROVIDER)."""
    provider = _provider(options.provider, "STTOptions.provider (OMNIVOICE_STT_PROVIDER)")
    api_key = _key(provider, options.api_key, options.base_url, "STT", "STTOptions.api_key")
    if provider == "openai":
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {
            "model": options.model or OPENAI_STT_MODEL,
            "language": options.language or "en",
            "api_key": api_key,
        }
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return openai.STT(**kwargs)
    from livekit.plugins.google import beta

    gkwargs: dict[str, Any] = {"api_key": api_key, "vertexai": False}
    if options.model:
        gkwargs["model"] = options.model
    if options.language:
        gkwargs["language"] = options.language
    if options.base_url:
        gkwargs["http_options"] = _http_options(options.base_url)
    return beta.GeminiSTT(**gkwargs)


def build_llm(options: LLMOptions) -> llm.LLM[Any]:
    """The LLM named by ``options.provider`` (``LLMOptions.provider`` / OMNIVOICE_LLM_PROVIDER)."""
    provider = _provider(options.provider, "LLMOptions.provider (OMNIVOICE_LLM_PROVIDER)")
    api_key = _key(provider, options.api_key, options.base_url, "LLM", "LLMOptions.api_key")
    if provider == "openai":
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": options.model or OPENAI_LLM_MODEL, "api_key": api_key}
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return openai.LLM(**kwargs)
    from livekit.plugins import google

    gkwargs: dict[str, Any] = {"api_key": api_key, "vertexai": False}
    if options.model:
        gkwargs["model"] = options.model
    if options.base_url:
        gkwargs["http_options"] = _http_options(options.base_url)
    return google.LLM(**gkwargs)


def build_tts(options: TTSOptions) -> tts.TTS[Any]:
    """The TTS named by ``options.provider`` (``TTSOptions.provider`` / OMNIVOICE_TTS_PROVIDER)."""
    provider = _provider(options.provider, "TTSOptions.provider (OMNIVOICE_TTS_PROVIDER)")
    api_key = _key(provider, options.api_key, options.base_url, "TTS", "TTSOptions.api_key")
    if provider == "openai":
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {
            "model": options.model or OPENAI_TTS_MODEL,
            "voice": options.voice_id or OPENAI_TTS_VOICE,
            "api_key": api_key,
            "response_format": "pcm",
        }
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return openai.TTS(**kwargs)
    if options.base_url:
        raise ConfigError(
            "TTSOptions.base_url (OMNIVOICE_TTS_BASE_URL): the google TTS cannot take a base URL; "
            "set GOOGLE_GEMINI_BASE_URL instead"
        )
    from livekit.plugins.google import beta

    gkwargs: dict[str, Any] = {"api_key": api_key, "vertexai": False}
    if options.model:
        gkwargs["model"] = options.model
    if options.voice_id:
        gkwargs["voice_name"] = options.voice_id
    return beta.GeminiTTS(**gkwargs)


def build_text(
    options: TextPipelineOptions, llm_provider: LLMProvider | GenerateFunction | None = None
) -> PipelineParts:
    """Build the STT → LLM → TTS pipeline. ConfigError names the bad setting or env var."""
    from omnivoice_rtc.pipelines.local import load_vad

    stt_ = build_stt(options.stt)
    llm_: llm.LLM[Any] = (
        LLMProviderAdapter(llm_provider) if llm_provider is not None else build_llm(options.llm)
    )
    tts_ = build_tts(options.tts)
    return PipelineParts(
        name="text",
        stt=stt_,
        llm=llm_,
        tts=tts_,
        vad=load_vad(),  # the process-wide silero VAD the local pipeline also uses
        instructions=options.llm.system_prompt or _DEFAULT_INSTRUCTIONS,
    )
