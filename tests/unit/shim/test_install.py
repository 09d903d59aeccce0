"""Gateways from the settings: which carriers are served, REST only when configured."""

from __future__ import annotations

import pytest

from omnivoice_rtc import ConfigError
from omnivoice_rtc._errors import StackError
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.shim.install import gateways_from_settings, native_media_options

pytestmark = pytest.mark.unit


def test_only_carriers_with_a_webhook_key_are_served() -> None:
    env = {
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_FROM_NUMBER": "+15550100",
        "PLIVO_AUTH_TOKEN": "p",
        "EXOTEL_STREAM_USER": "exo",
        "EXOTEL_STREAM_PASSWORD": "pw",
        "OMNIVOICE_TRUST_FORWARDED": "yes",
    }
    gateways = gateways_from_settings(Settings.from_env(env))
    assert [g.name for g in gateways] == ["twilio", "plivo", "exotel"]
    twilio, plivo, exotel = gateways
    assert twilio.profile.rest is not None
    assert plivo.profile.rest is None  # no PLIVO_AUTH_ID: no REST
    assert exotel.profile.rest is None  # no EXOTEL_API_KEY/TOKEN: streams only
    assert twilio.from_number == "+15550100"
    assert twilio.runtime is plivo.runtime is exotel.runtime
    assert twilio.runtime.trust_forwarded


def test_no_carrier_configured_names_every_webhook_key() -> None:
    from aiohttp import web

    from omnivoice_rtc.shim.install import install_from_env
    from omnivoice_rtc.web.keys import SETTINGS_KEY

    app = web.Application()
    app[SETTINGS_KEY] = Settings.from_env({})
    with pytest.raises(
        ConfigError,
        match=r"^TWILIO_AUTH_TOKEN/TELNYX_PUBLIC_KEY/VONAGE_SIGNATURE_SECRET/PLIVO_AUTH_TOKEN/"
        r"EXOTEL_STREAM_PASSWORD: set at least one carrier's webhook key",
    ):
        install_from_env(app)


def test_bad_trust_forwarded_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="OMNIVOICE_TRUST_FORWARDED: must be true or false"):
        Settings.from_env({"OMNIVOICE_TRUST_FORWARDED": "maybe"})


def _shim(media: str) -> Settings:
    return Settings.from_env({"OMNIVOICE_SHIM_MEDIA": media} if media else {})


def test_shim_media_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert native_media_options(_shim("rtc").shim) is None
    native = native_media_options(_shim("native").shim)  # built by make deps
    assert native is not None
    assert native_media_options(_shim("").shim) is not None  # auto: the binary is there
    with pytest.raises(
        ConfigError, match=r"^OMNIVOICE_SHIM_MEDIA: must be one of auto, native, rtc"
    ):
        _shim("fast")

    def missing(name: str) -> str:
        raise StackError(f"{name}: binary not found in bin/ or PATH; run `make deps`")

    monkeypatch.setattr("omnivoice_rtc.shim.install.find_binary", missing)
    assert native_media_options(_shim("auto").shim) is None
    with pytest.raises(ConfigError, match=r"^OMNIVOICE_SHIM_MEDIA=native: omnivoice-media not"):
        native_media_options(_shim("native").shim)


def test_the_gateways_share_the_apps_state_store_and_the_settings_limits() -> None:
    from omnivoice_rtc.shim.install import install_from_env
    from omnivoice_rtc.shim.routes import CARRIER_GATEWAYS_KEY
    from omnivoice_rtc.web import create_app
    from omnivoice_rtc.web.keys import STATE_KEY

    env = {
        "TWILIO_AUTH_TOKEN": "t",
        "OMNIVOICE_OUTBOUND_ALLOW": "+1415",
        "OMNIVOICE_MAX_CALLS": "7",
        "OMNIVOICE_REPLICA_ID": "web-1",
    }
    settings = Settings.from_env(env)
    app = create_app(settings, route_installers=[install_from_env])
    guard = app[CARRIER_GATEWAYS_KEY]["twilio"].runtime.guard
    assert guard.state is app[STATE_KEY]
    assert guard.limits is settings.limits
    assert guard.outbound.limits.allow == ("+1415",)
    assert guard.limits.ingress.max_calls == 7
    assert guard.registry.replica_id == "web-1"
