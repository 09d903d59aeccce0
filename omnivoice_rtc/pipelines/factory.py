"""Choose and build a pipeline (local, text or realtime) from configuration.

:class:`PipelineSettings` is read from the environment (``from_env``) or from a
``WebRTCConfig`` (``from_webrtc_config``); :func:`build_pipeline` turns it into
:class:`~omnivoice_rtc.pipelines.parts.PipelineParts`. Realtime and text builders live
in ``omnivoice_rtc.pipelines.realtime`` / ``.text`` and are imported only when chosen.

Environment (docs/sessions.md has the full table):

``OMNIVOICE_PIPELINE``            local | text | realtime. Default: realtime when
                                  OPENAI_API_KEY or GOOGLE_API_KEY is set, else local.
``OMNIVOICE_REALTIME_PROVIDER``   openai | gemini | a name registered with
                                  ``register_realtime_provider`` (default: openai if
                                  OPENAI_API_KEY is set).
``OMNIVOICE_REALTIME_MODEL`` / ``_VOICE`` / ``_BASE_URL``, ``OMNIVOICE_INSTRUCTIONS``.
``OMNIVOICE_STT_PROVIDER`` / ``_MODEL`` / ``_LANGUAGE`` / ``_BASE_URL`` / ``_API_KEY``,
``OMNIVOICE_LLM_*`` and ``OMNIVOICE_TTS_*`` (``_VOICE`` instead of ``_LANGUAGE``) for the
text pipeline; a missing ``*_API_KEY`` falls back to OPENAI_API_KEY / GOOGLE_API_KEY
by provider.

Every error is a :class:`~omnivoice_rtc.ConfigError` naming the variable at fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.pipelines.local import LocalPipelineOptions, build_local
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import env_str
from omnivoice_rtc.types import (
    LLMOptions,
    LLMProvider,
    PipelineMode,
    RealtimeConfig,
    STTOptions,
    TextPipelineOptions,
    TTSOptions,
    WebRTCConfig,
)

__all__ = ["PROVIDER_KEY_ENV", "PipelineSettings", "build_pipeline"]

PROVIDER_KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "gemini": "GOOGLE_API_KEY",
    "google": "GOOGLE_API_KEY",
}
"""Which environment variable holds the API key of each provider name."""

_TEXT_PROVIDERS = ("openai", "google")


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env_str(env, name, default).lower()
    if value not in allowed:
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _key_for(env: Mapping[str, str], provider: str, explicit_var: str, what: str) -> str:
    explicit = env_str(env, explicit_var, "")
    if explicit:
        return explicit
    key_var = PROVIDER_KEY_ENV[provider]
    key = env_str(env, key_var, "")
    if not key:
        raise ConfigError(
            f"{key_var}: required for {what} provider {provider!r} (or set {explicit_var})"
        )
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineSettings:
    """Which pipeline to build and its options; exactly one of the option groups is used."""

    mode: PipelineMode = PipelineMode.LOCAL
    realtime: RealtimeConfig | None = None
    text: TextPipelineOptions | None = None
    local: LocalPipelineOptions = field(default_factory=LocalPipelineOptions)
    instructions: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PipelineSettings:
        """Read and validate the pipeline environment (see the module docstring)."""
        env = os.environ if env is None else env
        has_key = bool(env_str(env, "OPENAI_API_KEY", "") or env_str(env, "GOOGLE_API_KEY", ""))
        mode_name = _choice(
            env,
            "OMNIVOICE_PIPELINE",
            "realtime" if has_key else "local",
            ("local", "text", "realtime"),
        )
        mode = PipelineMode(mode_name)
        instructions = env_str(env, "OMNIVOICE_INSTRUCTIONS", "")
        local = LocalPipelineOptions.from_env(env)
        if mode is PipelineMode.LOCAL:
            return cls(mode=mode, local=local, instructions=instructions)
        if mode is PipelineMode.REALTIME:
            default_provider = (
                "openai" if env_str(env, "OPENAI_API_KEY", "") or not has_key else "gemini"
            )
            from omnivoice_rtc.pipelines.registry import realtime_provider_names

            provider = _choice(
                env,
                "OMNIVOICE_REALTIME_PROVIDER",
                default_provider,
                tuple(realtime_provider_names()),
            )
            api_key = (
                _key_for(env, provider, "OMNIVOICE_REALTIME_API_KEY", "realtime")
                if provider in PROVIDER_KEY_ENV
                else env_str(env, "OMNIVOICE_REALTIME_API_KEY", "")
            )
            realtime = RealtimeConfig(
                provider=provider,
                api_key=api_key,
                model=env_str(env, "OMNIVOICE_REALTIME_MODEL", ""),
                voice=env_str(env, "OMNIVOICE_REALTIME_VOICE", ""),
                instructions=instructions,
                base_url=env_str(env, "OMNIVOICE_REALTIME_BASE_URL", ""),
            )
            return cls(mode=mode, realtime=realtime, local=local, instructions=instructions)
        stt_provider = _choice(env, "OMNIVOICE_STT_PROVIDER", "openai", _TEXT_PROVIDERS)
        llm_provider = _choice(env, "OMNIVOICE_LLM_PROVIDER", "openai", _TEXT_PROVIDERS)
        tts_provider = _choice(env, "OMNIVOICE_TTS_PROVIDER", "openai", _TEXT_PROVIDERS)
        text = TextPipelineOptions(
            stt=STTOptions(
                provider=stt_provider,
                api_key=_key_for(env, stt_provider, "OMNIVOICE_STT_API_KEY", "STT"),
                model=env_str(env, "OMNIVOICE_STT_MODEL", ""),
                language=env_str(env, "OMNIVOICE_STT_LANGUAGE", ""),
                base_url=env_str(env, "OMNIVOICE_STT_BASE_URL", ""),
            ),
            tts=TTSOptions(
                provider=tts_provider,
                api_key=_key_for(env, tts_provider, "OMNIVOICE_TTS_API_KEY", "TTS"),
                voice_id=env_str(env, "OMNIVOICE_TTS_VOICE", ""),
                model=env_str(env, "OMNIVOICE_TTS_MODEL", ""),
                base_url=env_str(env, "OMNIVOICE_TTS_BASE_URL", ""),
            ),
            llm=LLMOptions(
                provider=llm_provider,
                api_key=_key_for(env, llm_provider, "OMNIVOICE_LLM_API_KEY", "LLM"),
                model=env_str(env, "OMNIVOICE_LLM_MODEL", ""),
                system_prompt=instructions,
                base_url=env_str(env, "OMNIVOICE_LLM_BASE_URL", ""),
            ),
        )
        return cls(mode=mode, text=text, local=local, instructions=instructions)

    @classmethod
    def from_webrtc_config(cls, config: WebRTCConfig) -> PipelineSettings:
        """Settings for an in-process gateway configured with a ``WebRTCConfig``."""
        mode = PipelineMode(config.mode)
        if mode is PipelineMode.REALTIME:
            if config.realtime_config is None:
                raise ConfigError("realtime_config: required when mode is 'realtime'")
            return cls(
                mode=mode,
                realtime=config.realtime_config,
                instructions=config.realtime_config.instructions,
            )
        if mode is PipelineMode.TEXT:
            return cls(mode=mode, text=config.text, instructions=config.text.llm.system_prompt)
        return cls(mode=mode)


def build_pipeline(
    settings: PipelineSettings, *, llm_provider: LLMProvider | None = None
) -> PipelineParts:
    """Build the parts of one AgentSession. ConfigError on bad or missing settings."""
    if settings.mode is PipelineMode.LOCAL:
        parts = build_local(settings.local)
    elif settings.mode is PipelineMode.REALTIME:
        if settings.realtime is None:
            raise ConfigError("OMNIVOICE_PIPELINE: realtime mode needs a RealtimeConfig")
        from omnivoice_rtc.pipelines.realtime import build_realtime

        parts = build_realtime(settings.realtime)
    else:
        if settings.text is None:
            raise ConfigError("OMNIVOICE_PIPELINE: text mode needs TextPipelineOptions")
        from omnivoice_rtc.pipelines.text import build_text

        parts = build_text(settings.text, llm_provider=llm_provider)
    if settings.instructions:
        parts.instructions = settings.instructions
    return parts
