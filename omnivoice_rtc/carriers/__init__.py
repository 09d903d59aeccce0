"""Carrier profiles and call control (no media I/O): per carrier its settings, webhook
signatures, answer markup, webhook parsing, REST client and :class:`CarrierProfile`; the
registry of carriers; one-time stream tokens.

Per-carrier modules: :mod:`.twilio`, :mod:`.telnyx`, :mod:`.vonage`, :mod:`.plivo`,
:mod:`.exotel`; the list of carriers is :mod:`.registry`; the profile interface
:mod:`.profile`.
"""

from __future__ import annotations

from omnivoice_rtc.carriers._common import CarrierRestError
from omnivoice_rtc.carriers.exotel import ExotelProfile, ExotelRestClient, ExotelSettings
from omnivoice_rtc.carriers.plivo import PlivoProfile, PlivoRestClient, PlivoSettings
from omnivoice_rtc.carriers.profile import (
    CarrierProfile,
    CarrierSettings,
    Dialled,
    DialRequest,
    WebhookAnswer,
    WebhookRequest,
)
from omnivoice_rtc.carriers.registry import (
    PROFILES,
    carrier_names,
    configured_carriers,
    detect_carrier,
    profile_type,
    profiles_from_env,
)
from omnivoice_rtc.carriers.stream_tokens import StreamGrant, StreamTokenError, StreamTokenStore
from omnivoice_rtc.carriers.telnyx import TelnyxProfile, TelnyxRestClient, TelnyxSettings
from omnivoice_rtc.carriers.twilio import TwilioProfile, TwilioRestClient, TwilioSettings
from omnivoice_rtc.carriers.vonage import VonageProfile, VonageSettings
from omnivoice_rtc.carriers.vonage_rest import VonageRestClient

__all__ = [
    "PROFILES",
    "CarrierProfile",
    "CarrierRestError",
    "CarrierSettings",
    "DialRequest",
    "Dialled",
    "ExotelProfile",
    "ExotelRestClient",
    "ExotelSettings",
    "PlivoProfile",
    "PlivoRestClient",
    "PlivoSettings",
    "StreamGrant",
    "StreamTokenError",
    "StreamTokenStore",
    "TelnyxProfile",
    "TelnyxRestClient",
    "TelnyxSettings",
    "TwilioProfile",
    "TwilioRestClient",
    "TwilioSettings",
    "VonageProfile",
    "VonageRestClient",
    "VonageSettings",
    "WebhookAnswer",
    "WebhookRequest",
    "carrier_names",
    "configured_carriers",
    "detect_carrier",
    "profile_type",
    "profiles_from_env",
]
