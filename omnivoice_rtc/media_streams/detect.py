"""Detect which carrier opened a media WebSocket from its first frame (no I/O).

Rules (same as pipecat's runner, reference section 0):

* Twilio: ``connected`` with ``protocol`` (``"Call"``), or ``start`` with
  ``start.streamSid`` and ``start.callSid``;
* Telnyx: ``connected`` without ``protocol``, or ``start`` with a top-level ``stream_id``
  and ``start.call_control_id``;
* Vonage: ``websocket:connected``;
* Plivo: ``start`` with ``start.streamId`` and ``start.callId`` (Plivo sends no ``connected``).
"""

from __future__ import annotations

from typing import Any

from omnivoice_rtc.media_streams.messages import Carrier, MediaStreamCodec, load_json_object
from omnivoice_rtc.media_streams.plivo import PlivoCodec
from omnivoice_rtc.media_streams.telnyx import TelnyxCodec
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec

__all__ = ["codec_for", "detect_carrier"]


def detect_carrier(frame: str | bytes) -> Carrier:
    """Return the carrier whose protocol ``frame`` (the first frame received) belongs to.

    Raises ValueError (``cannot detect carrier: ...``) when the frame fits no rule.
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        raise ValueError("cannot detect carrier: first frame is binary")
    try:
        data = load_json_object("detect", frame)
    except ValueError as exc:
        raise ValueError(f"cannot detect carrier: {exc}") from None
    event = data.get("event")
    if event == "websocket:connected":
        return "vonage"
    if event == "connected":
        return "twilio" if "protocol" in data else "telnyx"
    if event == "start":
        start: Any = data.get("start")
        if isinstance(start, dict):
            if "streamSid" in start and "callSid" in start:
                return "twilio"
            if "stream_id" in data and "call_control_id" in start:
                return "telnyx"
            if "streamId" in start and "callId" in start:
                return "plivo"
        raise ValueError("cannot detect carrier: start frame matches no carrier")
    raise ValueError(f"cannot detect carrier: unexpected first event {event!r}")


def codec_for(carrier: Carrier) -> MediaStreamCodec:
    """A codec with default settings for ``carrier``."""
    if carrier == "twilio":
        return TwilioCodec()
    if carrier == "telnyx":
        return TelnyxCodec()
    if carrier == "vonage":
        return VonageCodec()
    if carrier == "plivo":
        return PlivoCodec()
    raise ValueError(f"unknown carrier {carrier!r}")
