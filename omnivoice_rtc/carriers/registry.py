"""The carriers omnivoice knows: one ordered list of profiles, one line per carrier.

Everything that depends on which carriers exist reads this module: the shim's routes and
handshake (carrier detection from the first frame), ``install_from_env`` (which carriers
are configured), the dev stack (carrier routes on or off), the stream token store (a
carrier name is valid when it is registered) and the stream sequencer.

Adding a carrier = a codec in ``media_streams/<name>.py``, a profile in
``carriers/<name>.py`` and its line in :data:`PROFILES` (docs/carriers.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from omnivoice_rtc.carriers.exotel import ExotelProfile
from omnivoice_rtc.carriers.plivo import PlivoProfile
from omnivoice_rtc.carriers.profile import CarrierProfile, CarrierSettings
from omnivoice_rtc.carriers.telnyx import TelnyxProfile
from omnivoice_rtc.carriers.twilio import TwilioProfile
from omnivoice_rtc.carriers.vonage import VonageProfile
from omnivoice_rtc.media_streams.messages import MediaStreamCodec, load_json_object

__all__ = [
    "PROFILES",
    "AnyProfile",
    "carrier_names",
    "carrier_settings_from_env",
    "check_carrier",
    "codec_for",
    "configured_carriers",
    "detect_candidates",
    "detect_carrier",
    "enable_vars",
    "profile_type",
    "profiles_from_env",
    "profiles_from_settings",
]

AnyProfile = CarrierProfile[Any, Any]

PROFILES: Final[tuple[type[AnyProfile], ...]] = (
    TwilioProfile,
    TelnyxProfile,
    VonageProfile,
    PlivoProfile,
    ExotelProfile,
)
"""Every carrier, in the order routes, settings and messages list them."""

_BY_NAME: Final[dict[str, type[AnyProfile]]] = {p.name: p for p in PROFILES}


def carrier_names() -> tuple[str, ...]:
    """The registered carrier names, in registry order."""
    return tuple(_BY_NAME)


def profile_type(name: str) -> type[AnyProfile]:
    """The profile class of carrier ``name``; ValueError (``unknown carrier 'x'``)."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown carrier {name!r}") from None


def check_carrier(name: str) -> str:
    """``name`` if it is a registered carrier, else ValueError."""
    profile_type(name)
    return name


def codec_for(name: str) -> MediaStreamCodec:
    """A codec with default settings for carrier ``name``."""
    cls = profile_type(name)
    return cls(settings=cls.settings_type()).codec()


# ------------------------------------------------------------------ environment


def enable_vars() -> tuple[str, ...]:
    """The variable that turns each carrier on (its webhook key), in registry order."""
    return tuple(p.settings_type.ENABLE_VAR for p in PROFILES)


def configured_carriers(env: Mapping[str, str]) -> list[str]:
    """Names of the carriers whose enabling variable is set in ``env`` (nothing else is
    read or checked: :func:`profiles_from_env` does that)."""
    return [p.name for p in PROFILES if env.get(p.settings_type.ENABLE_VAR, "").strip()]


def carrier_settings_from_env(env: Mapping[str, str]) -> dict[str, CarrierSettings]:
    """Every registered carrier's settings from ``env`` (ConfigError names a bad variable);
    :class:`omnivoice_rtc.settings.Settings` holds them as ``carriers``."""
    return {p.name: p.settings_type.from_env(env) for p in PROFILES}


def profiles_from_settings(carriers: Mapping[str, CarrierSettings]) -> list[AnyProfile]:
    """A profile for every enabled carrier of ``carriers`` (name -> settings)."""
    return [
        profile_type(name)(settings=settings)
        for name, settings in carriers.items()
        if settings.enabled
    ]


def profiles_from_env(env: Mapping[str, str]) -> list[AnyProfile]:
    """A profile for every carrier enabled in ``env`` (ConfigError names a bad variable)."""
    return profiles_from_settings(carrier_settings_from_env(env))


# ------------------------------------------------------------------ detection


def detect_candidates(frame: str | bytes, among: Iterable[str] | None = None) -> tuple[str, ...]:
    """The carriers (of ``among``; default all) whose protocol ``frame`` (a first frame)
    fits. More than one means the frame does not decide (Telnyx and Exotel both open
    with a bare ``connected``): wait for the next frame.

    Raises ValueError (``cannot detect carrier: ...``) when the frame fits no carrier.
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        raise ValueError("cannot detect carrier: first frame is binary")
    try:
        data = load_json_object("detect", frame)
    except ValueError as exc:
        raise ValueError(f"cannot detect carrier: {exc}") from None
    names = carrier_names() if among is None else tuple(among)
    profiles = [profile_type(n) for n in names]
    found = tuple(p.name for p in profiles if p.matches_first_frame(data))
    if found:
        return found
    event = data.get("event")
    if isinstance(event, str) and any(event in p.first_events for p in PROFILES):
        raise ValueError(f"cannot detect carrier: {event} frame matches no carrier")
    raise ValueError(f"cannot detect carrier: unexpected first event {event!r}")


def detect_carrier(frame: str | bytes) -> str:
    """The one carrier whose protocol ``frame`` belongs to; ValueError when none or when
    the frame fits several (see :func:`detect_candidates`)."""
    found = detect_candidates(frame)
    if len(found) > 1:
        raise ValueError(f"cannot detect carrier: the frame fits {' and '.join(found)}")
    return found[0]
