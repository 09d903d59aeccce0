"""The ``realtime`` pipeline: one voice-to-voice model (OpenAI Realtime or Gemini Live).

:func:`build_realtime` looks the provider up in the registry
(:mod:`omnivoice_rtc.pipelines.registry`), creates its livekit-agents ``RealtimeModel``
and turns ``RealtimeConfig.functions`` into livekit-agents raw function tools that call
``RealtimeConfig.on_function_call``.

Endpoints: ``RealtimeConfig.base_url`` overrides the provider endpoint (a proxy or a
loopback fake). When it is empty, the plugins' own environment variables apply
(``OPENAI_BASE_URL`` for OpenAI, ``GOOGLE_GEMINI_BASE_URL`` for google-genai).
google-genai always speaks ``wss://`` to a custom base URL, so a Gemini endpoint must
serve TLS; trust a private CA with ``SSL_CERT_FILE``.

Keys: ``RealtimeConfig.api_key``, else ``OPENAI_API_KEY`` (openai) or ``GOOGLE_API_KEY``
(gemini; google-genai also reads ``GEMINI_API_KEY``). A missing key raises
:class:`~omnivoice_rtc.ConfigError` naming the variable.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from typing import Any

from livekit.agents import RunContext, llm

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.pipelines.parts import PipelineParts
from omnivoice_rtc.settings import environment
from omnivoice_rtc.types.config import FunctionCallHandler, FunctionDeclaration, RealtimeConfig

__all__ = [
    "DEFAULT_GEMINI_MODEL",
    "DEFAULT_OPENAI_MODEL",
    "GeminiRealtimeFactory",
    "OpenAIRealtimeFactory",
    "build_function_tools",
    "build_realtime",
]

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-realtime"
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
_DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant. Keep answers short."
_CONNECT_TIMEOUT_MS = 10_000


def _resolve_key(explicit: str, env_names: tuple[str, ...], setting: str) -> str:
    if explicit:
        return explicit
    for name in env_names:
        if value := environment().get(name, "").strip():
            return value
    raise ConfigError(
        f"{env_names[0]}: not set; the {setting} needs an API key "
        f"(set {env_names[0]} or RealtimeConfig.api_key)"
    )


class OpenAIRealtimeFactory:
    """Creates ``livekit.plugins.openai.realtime.RealtimeModel`` (OpenAI Realtime API)."""

    name = "openai"

    def create(self, config: RealtimeConfig) -> llm.RealtimeModel:
        from livekit.plugins.openai import realtime as openai_realtime

        api_key = _resolve_key(config.api_key, ("OPENAI_API_KEY",), "openai realtime provider")
        kwargs: dict[str, Any] = {
            "model": config.model or DEFAULT_OPENAI_MODEL,
            "api_key": api_key,
        }
        if config.voice:
            kwargs["voice"] = config.voice
        if config.base_url:
            kwargs["base_url"] = config.base_url
        # RealtimeConfig.temperature is not sent: the GA Realtime API has no temperature.
        return openai_realtime.RealtimeModel(**kwargs)


class GeminiRealtimeFactory:
    """Creates ``livekit.plugins.google.realtime.RealtimeModel`` (Gemini Live API)."""

    name = "gemini"

    def create(self, config: RealtimeConfig) -> llm.RealtimeModel:
        from google.genai import types as genai_types
        from livekit.plugins.google import realtime as google_realtime

        api_key = _resolve_key(
            config.api_key, ("GOOGLE_API_KEY", "GEMINI_API_KEY"), "gemini realtime provider"
        )
        kwargs: dict[str, Any] = {
            "model": config.model or DEFAULT_GEMINI_MODEL,
            "api_key": api_key,
            "vertexai": False,
        }
        if config.voice:
            kwargs["voice"] = config.voice
        if config.instructions:
            kwargs["instructions"] = config.instructions
        if config.temperature > 0:
            kwargs["temperature"] = config.temperature
        if config.base_url:
            kwargs["http_options"] = genai_types.HttpOptions(
                base_url=config.base_url, timeout=_CONNECT_TIMEOUT_MS
            )
        return google_realtime.RealtimeModel(**kwargs)


def _encode_result(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    return json.dumps(result, default=str)


def _function_tool(
    decl: FunctionDeclaration, handler: FunctionCallHandler
) -> llm.RawFunctionTool[Any, Any]:
    parameters: Mapping[str, Any] = decl.parameters or {"type": "object", "properties": {}}
    schema: dict[str, Any] = {
        "name": decl.name,
        "description": decl.description,
        "parameters": dict(parameters),
    }

    async def call(raw_arguments: dict[str, object], context: RunContext[Any]) -> str:
        call_id = context.function_call.call_id
        args_json = json.dumps(raw_arguments)
        try:
            result = handler(call_id, decl.name, args_json)
            if inspect.isawaitable(result):
                result = await result
        except llm.ToolError:
            raise
        except Exception as exc:  # reported to the model as the tool's error, not swallowed
            logger.warning(
                "function call handler failed",
                extra={"function": decl.name, "call_id": call_id, "error": repr(exc)},
            )
            raise llm.ToolError(f"{decl.name} failed: {exc}") from exc
        return _encode_result(result)

    return llm.function_tool(call, raw_schema=schema)


def build_function_tools(
    functions: list[FunctionDeclaration], handler: FunctionCallHandler | None
) -> list[llm.RawFunctionTool[Any, Any]]:
    """Turn declarations into livekit-agents raw function tools.

    Each tool calls ``handler(call_id, name, arguments_json)`` (sync or async) and
    returns its result to the model: a ``str`` as is, anything else JSON-encoded.
    An exception becomes a ``ToolError`` whose message the model sees. A sync handler
    runs on the agent's event loop: keep it quick, or make it async.
    Without a handler, no tool is registered (Go: "if nil, function calls are ignored").
    """
    if not functions:
        return []
    if handler is None:
        logger.warning(
            "functions declared without on_function_call; they are not offered to the model",
            extra={"functions": [f.name for f in functions]},
        )
        return []
    seen: set[str] = set()
    for decl in functions:
        if decl.name in seen:
            raise ConfigError(f"RealtimeConfig.functions: duplicate function name {decl.name!r}")
        seen.add(decl.name)
    return [_function_tool(decl, handler) for decl in functions]


def build_realtime(config: RealtimeConfig) -> PipelineParts:
    """Build the realtime pipeline from ``config``.

    Raises ConfigError for an unknown provider (naming ``RealtimeConfig.provider``) or a
    missing key (naming the env var).
    """
    from omnivoice_rtc.pipelines.registry import get_realtime_provider

    factory = get_realtime_provider(config.provider or "openai")
    model = factory.create(config)
    if not isinstance(model, llm.RealtimeModel):
        raise ConfigError(
            f"RealtimeConfig.provider: factory {factory.name!r} returned "
            f"{type(model).__name__}, not a livekit.agents.llm.RealtimeModel"
        )
    return PipelineParts(
        name="realtime",
        llm=model,
        tools=list(build_function_tools(config.functions, config.on_function_call)),
        instructions=config.instructions or _DEFAULT_INSTRUCTIONS,
    )
