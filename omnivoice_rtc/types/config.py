"""Configuration value types: Config, WebRTCConfig, RealtimeConfig (BridgeConfig: :mod:`.bridge_config`).

Go's Config and WebRTCConfig have ~20 flat fields. We group them into small option
dataclasses (STT, TTS, LLM, session, LiveKit credentials, audio) to keep every
constructor at ≤10 keyword arguments; the JSON stays flat with the Go field names.

Live objects (a provider instance, a logger, a callback) are never read from JSON.
They are written as Go's encoding/json writes them where it can: ``Config``'s
``RealtimeProvider`` and ``BridgeConfig``'s ``Provider`` as ``null`` (a set provider
too: its Go shape is the provider's own business), ``Config.Logger`` as ``null`` or
``{}`` (a ``*slog.Logger`` has no exported fields). ``OnFunctionCall`` is left out:
``RealtimeConfig`` tags it ``json:"-"``; ``realtime.ProcessConfig`` does not, so Go's
``json.Marshal`` of a ``BridgeConfig`` fails ("unsupported type: func…") and our
``BridgeConfig`` JSON is the struct Go would write with that one field skipped.

Reading applies Go's documented defaults to zero values (``WebRTCConfig.SampleRate``
0 → 24000 Hz, ``Channels`` 0 → 1, ``Config.Mode`` "" → ``text`` (no provider can come
from JSON), ``BridgeConfig.BufferSize`` 0 → 100) and keeps everything else, e.g. an
``InterruptionMode`` of "" or one this version does not list. Where such a kept value
reaches code: an unlisted ``InterruptionMode`` behaves as ``immediate`` (the user can
always cut the agent off: see ``agent.livekit_session.interruption_settings``); a zero
``BridgeConfig.FromFormat``/``ToFormat`` reads as ``None`` and ``RealtimeBridge``
refuses it. (A non-zero format this library cannot convert, e.g. Opus, raises
ValueError: ``AudioFormat`` cannot hold it, and no Go program can write a
``BridgeConfig`` anyway.)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from omnivoice_rtc._gojson import duration_from_ns, duration_to_ns
from omnivoice_rtc.types._gostruct import GoStruct, go_field, go_inline, parsing
from omnivoice_rtc.types.enums import InterruptionMode, PipelineMode

__all__ = [
    "Config",
    "FunctionCallHandler",
    "FunctionDeclaration",
    "LLMOptions",
    "LiveKitCredentials",
    "ProcessConfig",
    "RealtimeConfig",
    "STTOptions",
    "SessionOptions",
    "TTSOptions",
    "TextPipelineOptions",
    "WebRTCAudioOptions",
    "WebRTCConfig",
]

FunctionCallHandler = Callable[[str, str, str], Any | Awaitable[Any]]
"""``(call_id, name, arguments_json) -> result``; may be async. Raise to report an error."""


def _duration(raw: Any, name: str) -> timedelta:
    return duration_from_ns(raw, field=name)


def _interruption(raw: Any, name: str) -> InterruptionMode:
    """Any Go string is kept (an open enum); only a non-string is refused."""
    if not isinstance(raw, str):
        raise ValueError(f"{name}: expected str, got {type(raw).__name__}")
    return InterruptionMode(raw)


def _mode(raw: Any, name: str) -> PipelineMode:
    if not isinstance(raw, str):
        raise ValueError(f"{name}: expected str, got {type(raw).__name__}")
    return PipelineMode(raw)


def _check_listed(value: InterruptionMode | PipelineMode, name: str) -> None:
    """A Python caller must pass a listed value; JSON from Go may carry any string."""
    if not value.is_known:
        listed = ", ".join(m.value for m in type(value))
        raise ValueError(f"{name}: must be one of {listed}; got {value.value!r}")


def _null(_value: Any) -> None:
    return None


def _never_read(_raw: Any, _name: str) -> None:
    return None


@dataclass(slots=True)
class STTOptions(GoStruct):
    """Speech-to-text settings (Go STTProvider, STTAPIKey, STTModel, STTLanguage)."""

    provider: str = go_field("STTProvider", kind=str, default="")
    api_key: str = go_field("STTAPIKey", kind=str, default="")
    model: str = go_field("STTModel", kind=str, default="")
    language: str = go_field("STTLanguage", kind=str, default="")
    base_url: str = field(default="", kw_only=True)
    """OpenAI-compatible endpoint (Python only; not in Go's JSON)."""


@dataclass(slots=True)
class TTSOptions(GoStruct):
    """Text-to-speech settings (Go TTSProvider, TTSAPIKey, TTSVoiceID, TTSModel)."""

    provider: str = go_field("TTSProvider", kind=str, default="")
    api_key: str = go_field("TTSAPIKey", kind=str, default="")
    voice_id: str = go_field("TTSVoiceID", kind=str, default="")
    model: str = go_field("TTSModel", kind=str, default="")
    base_url: str = field(default="", kw_only=True)
    """OpenAI-compatible endpoint (Python only; not in Go's JSON)."""


@dataclass(slots=True)
class LLMOptions(GoStruct):
    """LLM settings (Go LLMProvider, LLMAPIKey, LLMModel, LLMSystemPrompt)."""

    provider: str = go_field("LLMProvider", kind=str, default="")
    api_key: str = go_field("LLMAPIKey", kind=str, default="")
    model: str = go_field("LLMModel", kind=str, default="")
    system_prompt: str = go_field("LLMSystemPrompt", kind=str, default="")
    base_url: str = field(default="", kw_only=True)
    """OpenAI-compatible endpoint such as a self-hosted server (Python only)."""


@dataclass(slots=True)
class TextPipelineOptions(GoStruct):
    """The STT → LLM → TTS settings, flattened into the parent's JSON."""

    stt: STTOptions = go_inline(STTOptions)
    tts: TTSOptions = go_inline(TTSOptions)
    llm: LLMOptions = go_inline(LLMOptions)


@dataclass(slots=True)
class SessionOptions(GoStruct):
    """Session limits: ``max_session_duration`` (0 = unlimited) and interruption mode."""

    max_session_duration: timedelta = go_field(
        "MaxSessionDuration", encode=duration_to_ns, decode=_duration, default=timedelta(0)
    )
    interruption_mode: InterruptionMode = go_field(
        "InterruptionMode", encode=str, decode=_interruption, default=InterruptionMode.IMMEDIATE
    )

    def __post_init__(self) -> None:
        self.interruption_mode = _interruption(self.interruption_mode, "interruption_mode")
        if parsing():
            return
        _check_listed(self.interruption_mode, "interruption_mode")
        if self.max_session_duration < timedelta(0):
            raise ValueError("max_session_duration: must be >= 0")


@dataclass(slots=True)
class FunctionDeclaration(GoStruct):
    """A tool the model may call (Go ``realtime.FunctionDeclaration``).

    ``parameters`` is a JSON Schema object; Go's is a ``json.RawMessage`` with
    ``omitempty``, so an empty one is left out. ``description`` is always written.
    """

    __go_name__ = "FunctionDeclaration"

    name: str = go_field("name", kind=str, default="")
    description: str = go_field("description", kind=str, default="")
    parameters: dict[str, Any] = go_field(
        "parameters", kind=dict, omitempty=True, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not parsing() and not self.name:
            raise ValueError("FunctionDeclaration.name: must not be empty")


def _functions(raw: Any, name: str) -> list[FunctionDeclaration]:
    if not isinstance(raw, list):
        raise ValueError(f"{name}: expected list, got {type(raw).__name__}")
    return [FunctionDeclaration.from_dict(item) for item in raw]


def _functions_or_null(functions: list[FunctionDeclaration]) -> list[dict[str, Any]] | None:
    """Go writes a nil slice as ``null``."""
    return [f.to_dict() for f in functions] or None


@dataclass(slots=True)
class ProcessConfig(GoStruct):
    """What a realtime session is started with (Go ``realtime.ProcessConfig``).

    ``model`` is a Python addition (Go's ProcessConfig has none; not in the JSON).
    ``extensions`` holds provider-specific settings (Go ``Extensions``).
    """

    __go_name__ = "ProcessConfig"

    instructions: str = go_field("Instructions", kind=str, default="")
    voice: str = go_field("Voice", kind=str, default="")
    functions: list[FunctionDeclaration] = go_field(
        "Functions", encode=_functions_or_null, decode=_functions, default_factory=list
    )
    temperature: float = go_field("Temperature", kind=float, default=0.0)
    extensions: dict[str, Any] | None = go_field("Extensions", kind=dict, default=None)
    model: str = field(default="", kw_only=True)


@dataclass(slots=True)
class RealtimeConfig(GoStruct):
    """Realtime (voice-to-voice) provider settings (Go ``RealtimeConfig``)."""

    __go_name__ = "RealtimeConfig"

    provider: str = go_field("provider", kind=str, default="openai")
    api_key: str = go_field("api_key", kind=str, default="")
    model: str = go_field("model", kind=str, omitempty=True, default="")
    voice: str = go_field("voice", kind=str, omitempty=True, default="")
    instructions: str = go_field("instructions", kind=str, omitempty=True, default="")
    functions: list[FunctionDeclaration] = go_field(
        "functions",
        omitempty=True,
        encode=lambda fs: [f.to_dict() for f in fs],
        decode=_functions,
        default_factory=list,
    )
    on_function_call: FunctionCallHandler | None = field(default=None, kw_only=True, compare=False)
    temperature: float = go_field("temperature", kind=float, omitempty=True, default=0.0)
    base_url: str = field(default="", kw_only=True)
    """Override the provider endpoint (Python only; e.g. a loopback fake or proxy)."""

    def __post_init__(self) -> None:
        if not parsing() and not 0.0 <= self.temperature <= 2.0:
            raise ValueError(
                f"RealtimeConfig.temperature: must be within 0..2, got {self.temperature}"
            )

    def to_process_config(self) -> ProcessConfig:
        """Go ``ToProcessConfig``."""
        return ProcessConfig(
            model=self.model,
            voice=self.voice,
            instructions=self.instructions,
            functions=list(self.functions),
            temperature=self.temperature,
        )


def _realtime(raw: Any, name: str) -> RealtimeConfig:
    return RealtimeConfig.from_dict(raw)


@dataclass(slots=True)
class Config(GoStruct):
    """Common configuration for PSTN voice gateways (Go ``Config``).

    ``realtime_provider`` (a ready model object) is written as ``null`` and ``logger``
    as ``null``/``{}`` (see the module docstring); neither is read back. An empty
    ``mode`` is Go's default: ``text`` without a ``realtime_provider``, ``realtime``
    with one. (The Python constructor's default, ``local``, needs no key.)
    """

    __go_name__ = "Config"

    listen_addr: str = go_field("ListenAddr", kind=str, default=":8080")
    public_url: str = go_field("PublicURL", kind=str, default="")
    mode: PipelineMode = go_field(
        "Mode", encode=str, decode=_mode, default=PipelineMode.LOCAL, go_default=PipelineMode.TEXT
    )
    text: TextPipelineOptions = go_inline(TextPipelineOptions)
    realtime_provider: Any = go_field(
        "RealtimeProvider", encode=_null, decode=_never_read, default=None, compare=False
    )
    realtime_config: RealtimeConfig | None = go_field(
        "RealtimeConfig", encode=lambda c: c.to_dict(), decode=_realtime, default=None
    )
    session: SessionOptions = go_inline(SessionOptions)
    logger: logging.Logger | None = go_field(
        "Logger", encode=lambda _logger: {}, decode=_never_read, default=None, compare=False
    )

    def __post_init__(self) -> None:
        self.mode = _mode(self.mode, "Config.mode")
        if parsing():
            return
        if self.mode == "":
            self.mode = (
                PipelineMode.TEXT if self.realtime_provider is None else PipelineMode.REALTIME
            )
        _check_listed(self.mode, "Config.mode")


@dataclass(slots=True)
class LiveKitCredentials(GoStruct):
    """LiveKit server URL (ws/wss or http/https) and API key/secret."""

    server_url: str = go_field("ServerURL", kind=str, default="")
    api_key: str = go_field("APIKey", kind=str, default="")
    api_secret: str = go_field("APISecret", kind=str, default="")


@dataclass(slots=True)
class WebRTCAudioOptions(GoStruct):
    """Agent audio: ``sample_rate`` in Hz (16000 or 24000, default 24000), mono."""

    sample_rate: int = go_field("SampleRate", kind=int, default=24000, go_default=24000)
    channels: int = go_field("Channels", kind=int, default=1, go_default=1)

    def __post_init__(self) -> None:
        if parsing():
            return  # kept as sent; LiveKitSession publishes at any rate, channels is unused
        if self.sample_rate not in (16000, 24000):
            raise ValueError(f"sample_rate: must be 16000 or 24000 Hz, got {self.sample_rate}")
        if self.channels != 1:
            raise ValueError(f"channels: only mono (1) is supported, got {self.channels}")


@dataclass(slots=True)
class WebRTCConfig(GoStruct):
    """Configuration for WebRTC gateways (Go ``WebRTCConfig``).

    ``mode`` and ``realtime_config`` are Python additions (Go configures pipelines
    elsewhere); they are not part of the JSON.
    """

    __go_name__ = "WebRTCConfig"

    livekit: LiveKitCredentials = go_inline(LiveKitCredentials)
    room_name: str = go_field("RoomName", kind=str, default="")
    agent_identity: str = go_field("AgentIdentity", kind=str, default="omnivoice-agent")
    agent_name: str = go_field("AgentName", kind=str, default="omnivoice-agent")
    audio: WebRTCAudioOptions = go_inline(WebRTCAudioOptions)
    mode: PipelineMode = field(default=PipelineMode.LOCAL, kw_only=True)
    text: TextPipelineOptions = go_inline(TextPipelineOptions)
    realtime_config: RealtimeConfig | None = field(default=None, kw_only=True)
    session: SessionOptions = go_inline(SessionOptions)
