"""Carrier call control (no media): webhook signatures, answer markup, webhook parsing,
REST clients, settings and one-time stream tokens, for Twilio, Telnyx, Vonage and Plivo.

Per-carrier functions live in :mod:`.twilio`, :mod:`.telnyx`, :mod:`.vonage` and
:mod:`.plivo`; the REST clients, settings and token store are re-exported here.
"""

from __future__ import annotations

from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.plivo import PlivoRestClient
from omnivoice_rtc.carriers.settings import (
    PlivoSettings,
    TelnyxSettings,
    TwilioSettings,
    VonageSettings,
)
from omnivoice_rtc.carriers.stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore
from omnivoice_rtc.carriers.telnyx import TelnyxRestClient
from omnivoice_rtc.carriers.twilio import TwilioRestClient
from omnivoice_rtc.carriers.vonage import VonageRestClient

__all__ = [
    "CarrierRestError",
    "PlivoRestClient",
    "PlivoSettings",
    "StreamGrant",
    "StreamTokenError",
    "StreamTokenStore",
    "TelnyxRestClient",
    "TelnyxSettings",
    "TwilioRestClient",
    "TwilioSettings",
    "VonageRestClient",
    "VonageSettings",
]
