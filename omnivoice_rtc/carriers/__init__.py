"""Carrier call control (no media): webhook signatures, answer markup, webhook parsing,
REST clients, settings and one-time stream tokens, for Twilio, Telnyx, Vonage and Plivo.

Per-carrier functions live in :mod:`.twilio`, :mod:`.telnyx`, :mod:`.vonage` and
:mod:`.plivo`; the REST clients, settings and token store are re-exported here.
"""

from __future__ import annotations

from ._common import CarrierRestError
from .plivo import PlivoRestClient
from .settings import PlivoSettings, TelnyxSettings, TwilioSettings, VonageSettings
from .stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore
from .telnyx import TelnyxRestClient
from .twilio import TwilioRestClient
from .vonage import VonageRestClient

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
