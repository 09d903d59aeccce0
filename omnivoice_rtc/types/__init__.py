"""Value types and interfaces of the Go ``gateway`` package, ported to Python."""

from omnivoice_rtc.types.config import (
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
from omnivoice_rtc.types.conversation import ToolCall, Turn
from omnivoice_rtc.types.enums import EventType, InterruptionMode, PipelineMode, ProviderName
from omnivoice_rtc.types.events import Event
from omnivoice_rtc.types.info import CallInfo, ParticipantInfo, RoomInfo
from omnivoice_rtc.types.metrics import Metrics
from omnivoice_rtc.types.protocols import (
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
