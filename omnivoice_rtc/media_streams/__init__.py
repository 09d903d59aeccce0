"""Pure wire codecs for carrier media-stream WebSockets (Twilio, Telnyx, Vonage, Plivo).

No I/O here: a codec turns one frame into one typed message and back. The shim
(:mod:`omnivoice_rtc.shim`) wires a codec, a WebSocket and a LiveKit room together.
"""

from __future__ import annotations

from omnivoice_rtc.media_streams.detect import codec_for, detect_carrier
from omnivoice_rtc.media_streams.framing import Framer
from omnivoice_rtc.media_streams.messages import (
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
from omnivoice_rtc.media_streams.plivo import PlivoCodec
from omnivoice_rtc.media_streams.sequence import StreamSequencer
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec

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
