"""Configuration value types: Config, WebRTCConfig, RealtimeConfig, BridgeConfig.

Go's Config and WebRTCConfig have ~20 flat fields. We group them into small option
dataclasses (STT, TTS, LLM, session, LiveKit credentials, audio) to keep every
constructor at ≤10 keyword arguments; the JSON stays flat with the Go field names.
Fields that hold live objects (a provider instance, a logger, a callback) are not
serialized, as in Go (``json:"-"`` or not marshalable).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from omnivoice_rtc._gojson import duration_from_ns, duration_to_ns
from omnivoice_rtc.audio.format import OPENAI, TWILIO, AudioFormat
from omnivoice_rtc.types._gostruct import GoStruct, go_field, go_inline
from omnivoice_rtc.types.enums import InterruptionMode, PipelineMode

__all__ = [
    "BridgeConfig",
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
    try:
        return InterruptionMode(raw)
    except ValueError:
        raise ValueError(
            f"{name}: must be one of immediate, after_sentence, disabled; got {raw!r}"
        ) from None


def _mode(raw: Any, name: str) -> PipelineMode:
    try:
        return PipelineMode(raw)
    except ValueError:
        raise ValueError(f"{name}: must be one of text, realtime, local; got {raw!r}") from None


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
        if self.max_session_duration < timedelta(0):
            raise ValueError("max_session_duration: must be >= 0")


@dataclass(slots=True)
class FunctionDeclaration(GoStruct):
    """A tool the model may call. ``parameters`` is a JSON Schema object."""

    __go_name__ = "FunctionDeclaration"

    name: str = go_field("name", kind=str, default="")
    description: str = go_field("description", kind=str, omitempty=True, default="")
    parameters: dict[str, Any] = go_field(
        "parameters", kind=dict, omitempty=True, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("FunctionDeclaration.name: must not be empty")


def _functions(raw: Any, name: str) -> list[FunctionDeclaration]:
    if not isinstance(raw, list):
        raise ValueError(f"{name}: expected list, got {type(raw).__name__}")
    return [FunctionDeclaration.from_dict(item) for item in raw]


@dataclass(slots=True)
class ProcessConfig:
    """What a realtime session is started with (Go ``realtime.ProcessConfig``)."""

    model: str = ""
    voice: str = ""
    instructions: str = ""
    functions: list[FunctionDeclaration] = field(default_factory=list)
    temperature: float = 0.0


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
        if not 0.0 <= self.temperature <= 2.0:
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

    ``realtime_provider`` (a ready model object) and ``logger`` are not serialized.
    """

    __go_name__ = "Config"

    listen_addr: str = go_field("ListenAddr", kind=str, default=":8080")
    public_url: str = go_field("PublicURL", kind=str, default="")
    mode: PipelineMode = go_field("Mode", encode=str, decode=_mode, default=PipelineMode.LOCAL)
    text: TextPipelineOptions = go_inline(TextPipelineOptions)
    realtime_provider: Any = field(default=None, kw_only=True, compare=False)
    realtime_config: RealtimeConfig | None = go_field(
        "RealtimeConfig", encode=lambda c: c.to_dict(), decode=_realtime, default=None
    )
    session: SessionOptions = go_inline(SessionOptions)
    logger: logging.Logger | None = field(default=None, kw_only=True, compare=False)

    def __post_init__(self) -> None:
        self.mode = _mode(self.mode, "Config.mode")


@dataclass(slots=True)
class LiveKitCredentials(GoStruct):
    """LiveKit server URL (ws/wss or http/https) and API key/secret."""

    server_url: str = go_field("ServerURL", kind=str, default="")
    api_key: str = go_field("APIKey", kind=str, default="")
    api_secret: str = go_field("APISecret", kind=str, default="")


@dataclass(slots=True)
class WebRTCAudioOptions(GoStruct):
    """Agent audio: ``sample_rate`` in Hz (16000 or 24000, default 24000), mono."""

    sample_rate: int = go_field("SampleRate", kind=int, default=24000)
    channels: int = go_field("Channels", kind=int, default=1)

    def __post_init__(self) -> None:
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


@dataclass(slots=True)
class BridgeConfig(GoStruct):
    """Configures a RealtimeBridge (Go ``BridgeConfig``).

    ``provider`` is a livekit-agents ``llm.RealtimeModel`` (not serialized).
    ``buffer_size`` is the capacity, in frames, of the audio queues (default 100).
    """

    __go_name__ = "BridgeConfig"

    provider: Any = field(default=None, kw_only=True, compare=False)
    process_config: ProcessConfig = field(default_factory=ProcessConfig, kw_only=True)
    from_format: AudioFormat = go_field(
        "FromFormat",
        encode=lambda f: f.to_dict(),
        decode=lambda raw, _n: AudioFormat.from_dict(raw),
        default=TWILIO,
    )
    to_format: AudioFormat = go_field(
        "ToFormat",
        encode=lambda f: f.to_dict(),
        decode=lambda raw, _n: AudioFormat.from_dict(raw),
        default=OPENAI,
    )
    buffer_size: int = go_field("BufferSize", kind=int, default=100)

    def __post_init__(self) -> None:
        if self.buffer_size <= 0:
            raise ValueError(f"BridgeConfig.buffer_size: must be > 0, got {self.buffer_size}")
