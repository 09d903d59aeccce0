"""omnivoice-rtc: voice agents on LiveKit rooms, carrier media streams and SIP trunks.

The public API is stated here once; everything else lives in private or
sub-package modules. See docs/api-mapping.md for the Go → Python name map.

Names that pull in livekit-agents, livekit rtc or the carrier clients (gateways,
sessions, the bridge, the provider registry) load on first access, so
``import omnivoice_rtc`` stays cheap for code that only needs the value types.
"""

from importlib import import_module as _import_module
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from omnivoice_rtc._errors import (
    CallRejectedError,
    CaptureFrameError,
    CarrierRestError,
    ConfigError,
    FrameSizeError,
    LimitError,
    OmniVoiceError,
    ProtocolError,
    ProviderError,
    ReplayError,
    RequestError,
    SessionClosedError,
    SignatureError,
    SIPCallError,
    StackError,
    StreamRejected,
    StreamTokenError,
    TokenRequestError,
    UnsupportedActionError,
)
from omnivoice_rtc.audio.converter import AudioConverter, StreamConverter
from omnivoice_rtc.audio.format import (
    GEMINI_INPUT,
    GEMINI_OUTPUT,
    LIVEKIT,
    OPENAI,
    PLIVO,
    PLIVO_L16_8K,
    PLIVO_L16_16K,
    TELNYX,
    TWILIO,
    VONAGE,
    VONAGE_8K,
    AudioEncoding,
    AudioFormat,
)
from omnivoice_rtc.livekit import create_room, delete_room, generate_client_token, list_rooms
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.types import (
    BridgeConfig,
    CallHandler,
    CallInfo,
    Config,
    Event,
    EventType,
    FunctionCallHandler,
    FunctionDeclaration,
    Gateway,
    InterruptionMode,
    LiveKitCredentials,
    LLMOptions,
    LLMProvider,
    Metrics,
    ParticipantHandler,
    ParticipantInfo,
    PipelineMode,
    ProcessConfig,
    ProviderName,
    RealtimeConfig,
    RealtimeProviderFactory,
    RoomInfo,
    Session,
    SessionOptions,
    STTOptions,
    TextPipelineOptions,
    ToolCall,
    TTSOptions,
    Turn,
    WebRTCAudioOptions,
    WebRTCConfig,
    WebRTCGateway,
    WebRTCSession,
)

if _TYPE_CHECKING:
    from omnivoice_rtc.agent.agent_spec import AgentSpec, Greeting, SilenceHandling
    from omnivoice_rtc.agent.call_context import CallContext
    from omnivoice_rtc.agent.livekit_gateway import LiveKitGateway
    from omnivoice_rtc.agent.livekit_session import LiveKitSession
    from omnivoice_rtc.carriers import StreamTokenStore
    from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter
    from omnivoice_rtc.pipelines.registry import (
        get_realtime_provider,
        realtime_provider_names,
        register_realtime_provider,
    )
    from omnivoice_rtc.realtime_bridge import RealtimeBridge
    from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway
    from omnivoice_rtc.shim.pstn_session import PstnSession
    from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
    from omnivoice_rtc.sip.sip_session import SIPSession

_LAZY: dict[str, str] = {
    "AgentSpec": ".agent.agent_spec",
    "CallContext": ".agent.call_context",
    "Greeting": ".agent.agent_spec",
    "SilenceHandling": ".agent.agent_spec",
    "LLMProviderAdapter": ".pipelines.llm_adapter",
    "LiveKitGateway": ".agent.livekit_gateway",
    "LiveKitSession": ".agent.livekit_session",
    "MediaStreamGateway": ".shim.media_stream_gateway",
    "PstnSession": ".shim.pstn_session",
    "RealtimeBridge": ".realtime_bridge",
    "SIPGateway": ".sip.sip_gateway",
    "SIPGatewayOptions": ".sip.sip_gateway",
    "SIPSession": ".sip.sip_session",
    "StreamTokenStore": ".carriers",
    "get_realtime_provider": ".pipelines.registry",
    "realtime_provider_names": ".pipelines.registry",
    "register_realtime_provider": ".pipelines.registry",
}


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omnivoice_rtc' has no attribute {name!r}")
    value = getattr(_import_module(module, __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "GEMINI_INPUT",
    "GEMINI_OUTPUT",
    "LIVEKIT",
    "OPENAI",
    "PLIVO",
    "PLIVO_L16_8K",
    "PLIVO_L16_16K",
    "TELNYX",
    "TWILIO",
    "VONAGE",
    "VONAGE_8K",
    "AgentSpec",
    "AudioConverter",
    "AudioEncoding",
    "AudioFormat",
    "BridgeConfig",
    "CallContext",
    "CallHandler",
    "CallInfo",
    "CallRejectedError",
    "CaptureFrameError",
    "CarrierRestError",
    "Config",
    "ConfigError",
    "Event",
    "EventType",
    "FrameSizeError",
    "FunctionCallHandler",
    "FunctionDeclaration",
    "Gateway",
    "Greeting",
    "InterruptionMode",
    "LLMOptions",
    "LLMProvider",
    "LLMProviderAdapter",
    "LimitError",
    "LiveKitCredentials",
    "LiveKitGateway",
    "LiveKitSession",
    "MediaStreamGateway",
    "Metrics",
    "OmniVoiceError",
    "ParticipantHandler",
    "ParticipantInfo",
    "PipelineMode",
    "ProcessConfig",
    "ProtocolError",
    "ProviderError",
    "ProviderName",
    "PstnSession",
    "RealtimeBridge",
    "RealtimeConfig",
    "RealtimeProviderFactory",
    "ReplayError",
    "RequestError",
    "RoomInfo",
    "SIPCallError",
    "SIPGateway",
    "SIPGatewayOptions",
    "SIPSession",
    "STTOptions",
    "Session",
    "SessionClosedError",
    "SessionOptions",
    "Settings",
    "SignatureError",
    "SilenceHandling",
    "StackError",
    "StreamConverter",
    "StreamRejected",
    "StreamTokenError",
    "StreamTokenStore",
    "TTSOptions",
    "TextPipelineOptions",
    "TokenRequestError",
    "ToolCall",
    "Turn",
    "UnsupportedActionError",
    "WebRTCAudioOptions",
    "WebRTCConfig",
    "WebRTCGateway",
    "WebRTCSession",
    "create_room",
    "delete_room",
    "generate_client_token",
    "get_realtime_provider",
    "list_rooms",
    "realtime_provider_names",
    "register_realtime_provider",
]
