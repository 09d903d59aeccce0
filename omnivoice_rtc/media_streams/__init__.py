"""Pure wire codecs for carrier media-stream WebSockets (Twilio, Telnyx, Vonage, Plivo, Exotel).

No I/O here: a codec turns one frame into one typed message and back. Which carriers
exist, and which codec each one uses, is in :mod:`omnivoice_rtc.carriers.registry`; the
shim (:mod:`omnivoice_rtc.shim`) wires a codec, a WebSocket and a LiveKit room together.
"""

from __future__ import annotations

from omnivoice_rtc.media_streams.exotel import ExotelCodec
from omnivoice_rtc.media_streams.framing import Framer
from omnivoice_rtc.media_streams.messages import (
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
    "Clear",
    "Cleared",
    "Connected",
    "Dtmf",
    "Error",
    "ExotelCodec",
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
]
