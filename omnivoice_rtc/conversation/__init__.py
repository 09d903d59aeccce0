"""Conversation accounting shared by every runtime: one transcript/metrics builder
(:class:`ConversationStats`) and one tool-call path (:func:`build_tool_call`).

Used by ``agent.livekit_session.LiveKitSession`` (through ``agent.event_map``),
``realtime_bridge.RealtimeBridge`` and ``calls.call_session.CallSession``.
"""

from omnivoice_rtc.conversation.stats import ConversationStats, LatencyKind
from omnivoice_rtc.conversation.tool_calls import (
    INVALID_ARGUMENTS_ERROR,
    arguments_are_json,
    build_tool_call,
    normalize_arguments,
)

__all__ = [
    "INVALID_ARGUMENTS_ERROR",
    "ConversationStats",
    "LatencyKind",
    "arguments_are_json",
    "build_tool_call",
    "normalize_arguments",
]
