"""Pure wire codecs for carrier media-stream WebSockets (Twilio, Telnyx, Vonage, Plivo).

No I/O here: a codec turns one frame into one typed message and back. The shim
(:mod:`omnivoice_rtc.shim`) wires a codec, a WebSocket and a LiveKit room together.
"""

from __future__ import annotations

from .base import (
    CARRIERS,
    Carrier,
    Clear,
    Cleared,
    Connected,
    Dtmf,
    Error,
    InboundMessage,
    Mark,
    Media,
    MediaStreamCodec,
    OutboundCommand,
    SendMark,
    SendMedia,
    Start,
    Stop,
)
from .detect import codec_for, detect_carrier
from .framing import Framer
from .plivo import PlivoCodec
from .sequence import StreamSequencer
from .telnyx import TelnyxCodec
from .twilio import TwilioCodec
from .vonage import VonageCodec

__all__ = [
    "CARRIERS",
    "Carrier",
    "Clear",
    "Cleared",
    "Connected",
    "Dtmf",
    "Error",
    "Framer",
    "InboundMessage",
    "Mark",
    "Media",
    "MediaStreamCodec",
    "OutboundCommand",
    "PlivoCodec",
    "SendMark",
    "SendMedia",
    "Start",
    "Stop",
    "StreamSequencer",
    "TelnyxCodec",
    "TwilioCodec",
    "VonageCodec",
    "codec_for",
    "detect_carrier",
]
