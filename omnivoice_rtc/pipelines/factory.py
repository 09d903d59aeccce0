"""Build a pipeline (local, text or realtime) from its settings.

:class:`~omnivoice_rtc.settings.pipeline.PipelineSettings` comes from the environment
(``Settings.from_env().agent.pipeline``) or from a ``WebRTCConfig``
(:func:`pipeline_settings_from_webrtc_config`); :func:`build_pipeline` turns it into
:class:`~omnivoice_rtc.pipelines.parts.PipelineParts`. Realtime and text builders live
in ``omnivoice_rtc.pipelines.realtime`` / ``.text`` and are imported only when chosen.
"""

from __future__ import annotations

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.pipelines.llm_adapter import GenerateFunction, LLMProviderAdapter
from omnivoice_rtc.pipelines.local import build_local
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings.pipeline import PipelineSettings
from omnivoice_rtc.types import LLMProvider, PipelineMode, WebRTCConfig

__all__ = ["PipelineSettings", "build_pipeline", "pipeline_settings_from_webrtc_config"]


def pipeline_settings_from_webrtc_config(config: WebRTCConfig) -> PipelineSettings:
    """Settings for an in-process gateway configured with a ``WebRTCConfig``."""
    mode = PipelineMode(config.mode)
    if mode is PipelineMode.REALTIME:
        if config.realtime_config is None:
            raise ConfigError("realtime_config: required when mode is 'realtime'")
        return PipelineSettings(
            mode=mode,
            realtime=config.realtime_config,
            instructions=config.realtime_config.instructions,
        )
    if mode is PipelineMode.TEXT:
        return PipelineSettings(
            mode=mode, text=config.text, instructions=config.text.llm.system_prompt
        )
    return PipelineSettings(mode=mode)


def build_pipeline(
    settings: PipelineSettings, *, llm_provider: LLMProvider | GenerateFunction | None = None
) -> PipelineParts:
    """Build the parts of one AgentSession. ConfigError on bad or missing settings.

    ``llm_provider`` replaces the LLM of the text and local pipelines (an
    :class:`~omnivoice_rtc.pipelines.llm_adapter.LLMProviderAdapter` around it); a realtime
    model has no separate LLM, so it is not used there."""
    if settings.mode is PipelineMode.LOCAL:
        parts = build_local(settings.local)
        if llm_provider is not None:
            parts.llm = LLMProviderAdapter(llm_provider)
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
    if settings.mode is not PipelineMode.REALTIME:
        parts.endpointing = settings.local.adaptive_endpointing()
    parts.input_frame_ms = settings.local.input_frame_ms
    return parts
