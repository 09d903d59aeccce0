"""The seed's ``Config`` as an :class:`~omnivoice_rtc.agent.agent_spec.AgentSpec`.

``omnivoice-rtc worker --config agent.yaml`` (or ``OMNIVOICE_AGENT_CONFIG``) reads a Go
``Config`` (its JSON keys, in JSON or YAML: :func:`load_config_file`); a factory may
build one in Python too. :func:`agent_spec_from_config` maps it; what each Go field does
(or why it does nothing in the agent) is :data:`CONFIG_FIELD_EFFECTS`, which
docs/agents.md shows and a test checks field by field.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Final

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.agent.agent_spec import AgentSpec, PipelineChoice
from omnivoice_rtc.pipelines.realtime import build_function_tools
from omnivoice_rtc.types import Config, InterruptionMode, PipelineMode

__all__ = ["CONFIG_FIELD_EFFECTS", "agent_spec_from_config", "load_config_file"]

logger = logging.getLogger(__name__)

_NOT_APPLICABLE = "not applicable to the agent"
CONFIG_FIELD_EFFECTS: Final[dict[str, str]] = {
    "ListenAddr": f"{_NOT_APPLICABLE}: the web server's address is OMNIVOICE_WEB_HOST/"
    "OMNIVOICE_WEB_PORT; the worker listens for no calls",
    "PublicURL": f"{_NOT_APPLICABLE}: the web server's public URL is OMNIVOICE_PUBLIC_URL",
    "Mode": "the pipeline: text, realtime or local",
    "STTProvider": "text pipeline: STT provider (openai, google)",
    "STTAPIKey": "text pipeline: STT key (else OPENAI_API_KEY / GOOGLE_API_KEY)",
    "STTModel": "text pipeline: STT model",
    "STTLanguage": "text pipeline: STT language",
    "TTSProvider": "text pipeline: TTS provider (openai, google)",
    "TTSAPIKey": "text pipeline: TTS key",
    "TTSVoiceID": "text pipeline: the voice (AgentSpec.voice)",
    "TTSModel": "text pipeline: TTS model",
    "LLMProvider": "text pipeline: LLM provider (openai, google)",
    "LLMAPIKey": "text pipeline: LLM key",
    "LLMModel": "text pipeline: LLM model",
    "LLMSystemPrompt": "text pipeline: the instructions (AgentSpec.instructions)",
    "RealtimeProvider": "realtime pipeline: a ready livekit RealtimeModel (Python only; "
    "JSON cannot carry one) used as the model",
    "RealtimeConfig": "realtime pipeline: provider, key, model, voice, instructions, "
    "temperature; Functions + OnFunctionCall become the agent's tools",
    "MaxSessionDuration": "AgentSpec.max_call_duration (0 keeps the worker's "
    "OMNIVOICE_MAX_SESSION_DURATION_S, whose default 0 is unlimited)",
    "InterruptionMode": "AgentSpec.interruption_mode (a value this version does not list "
    "reads as immediate)",
    "Logger": f"{_NOT_APPLICABLE}: the worker logs through the logging module "
    "(OMNIVOICE_LOG_FORMAT, OMNIVOICE_LOG_LEVEL)",
}
"""Every Go ``Config`` field and what it does to the agent."""


def _realtime_spec(config: Config) -> dict[str, Any]:
    rc = config.realtime_config
    pipeline: PipelineChoice = PipelineMode.REALTIME
    values: dict[str, Any] = {}
    if rc is not None:
        pipeline = rc
        values.update(instructions=rc.instructions, voice=rc.voice)
    if config.realtime_provider is not None:
        pipeline = config.realtime_provider
        if rc is not None:  # build_realtime would have made these tools from the config
            values["tools"] = build_function_tools(rc.functions, rc.on_function_call)
    values["pipeline"] = pipeline
    return values


def agent_spec_from_config(config: Config) -> AgentSpec:
    """The :class:`AgentSpec` a seed ``Config`` describes (see :data:`CONFIG_FIELD_EFFECTS`)."""
    mode = config.mode
    values: dict[str, Any]
    if mode is PipelineMode.REALTIME:
        values = _realtime_spec(config)
    elif mode is PipelineMode.TEXT:
        text = config.text
        values = {
            "pipeline": text,
            "instructions": text.llm.system_prompt,
            "voice": text.tts.voice_id,
        }
    else:
        values = {"pipeline": PipelineMode.LOCAL}
    session = config.session
    if session.max_session_duration.total_seconds() > 0:
        values["max_call_duration"] = session.max_session_duration
    interruption = session.interruption_mode
    if not interruption.is_known:
        logger.warning(
            "Config.InterruptionMode not listed; using immediate",
            extra={"interruption_mode": interruption.value},
        )
        interruption = InterruptionMode.IMMEDIATE
    values["interruption_mode"] = interruption
    return AgentSpec(**values)


def _parse(file: Path, text: str) -> Any:
    if file.suffix.lower() not in (".yaml", ".yml"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"agent config {file}: not valid JSON: {exc}") from None
    import yaml  # type: ignore[import-untyped]  # reason: PyYAML ships no type information

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"agent config {file}: not valid YAML: {exc}") from None


def load_config_file(path: str | Path) -> Config:
    """Read a seed ``Config`` (Go JSON keys) from a ``.json``, ``.yaml`` or ``.yml`` file.

    ConfigError names the file and what is wrong with it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"agent config {file}: cannot read it ({exc.strerror})") from None
    data = _parse(file, text)
    if not isinstance(data, dict):
        raise ConfigError(f"agent config {file}: must be an object of Config fields")
    unknown = sorted(set(data) - set(CONFIG_FIELD_EFFECTS))
    if unknown:
        raise ConfigError(
            f"agent config {file}: unknown Config field(s) {', '.join(unknown)} "
            f"(the fields are the Go names: {', '.join(CONFIG_FIELD_EFFECTS)})"
        )
    try:
        return Config.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"agent config {file}: {exc}") from None
