"""Value types and interfaces of the Go ``gateway`` package, ported to Python."""

from .config import (
    BridgeConfig,
    Config,
    FunctionCallHandler,
    FunctionDeclaration,
    LiveKitCredentials,
    LLMOptions,
    ProcessConfig,
    RealtimeConfig,
    SessionOptions,
    STTOptions,
    TextPipelineOptions,
    TTSOptions,
    WebRTCAudioOptions,
    WebRTCConfig,
)
from .conversation import ToolCall, Turn
from .enums import EventType, InterruptionMode, PipelineMode, ProviderName
from .events import Event
from .info import CallInfo, ParticipantInfo, RoomInfo
from .metrics import Metrics
from .protocols import (
    AudioConverter,
    CallHandler,
    Gateway,
    LLMProvider,
    ParticipantHandler,
    RealtimeProviderFactory,
    Session,
    WebRTCGateway,
    WebRTCSession,
)

__all__ = [
    "AudioConverter",
    "BridgeConfig",
    "CallHandler",
    "CallInfo",
    "Config",
    "Event",
    "EventType",
    "FunctionCallHandler",
    "FunctionDeclaration",
    "Gateway",
    "InterruptionMode",
    "LLMOptions",
    "LLMProvider",
    "LiveKitCredentials",
    "Metrics",
    "ParticipantHandler",
    "ParticipantInfo",
    "PipelineMode",
    "ProcessConfig",
    "ProviderName",
    "RealtimeConfig",
    "RealtimeProviderFactory",
    "RoomInfo",
    "STTOptions",
    "Session",
    "SessionOptions",
    "TTSOptions",
    "TextPipelineOptions",
    "ToolCall",
    "Turn",
    "WebRTCAudioOptions",
    "WebRTCConfig",
    "WebRTCGateway",
    "WebRTCSession",
]
