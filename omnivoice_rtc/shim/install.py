"""Build the carrier gateways from the environment (the web server's ``--routes`` path).

``python -m omnivoice_rtc.web --routes omnivoice_rtc.shim.install:install_from_env`` (or
``OMNIVOICE_WEB_ROUTES``) serves every carrier whose webhook secret is set:

=========  ===========================  ==========================================
carrier    webhook key (required)       REST (optional: make_call, hang-up)
=========  ===========================  ==========================================
twilio     ``TWILIO_AUTH_TOKEN``        + ``TWILIO_ACCOUNT_SID``
telnyx     ``TELNYX_PUBLIC_KEY``        + ``TELNYX_API_KEY``, ``TELNYX_CONNECTION_ID``
vonage     ``VONAGE_SIGNATURE_SECRET``  + ``VONAGE_APPLICATION_ID``, ``VONAGE_PRIVATE_KEY``
plivo      ``PLIVO_AUTH_TOKEN``         + ``PLIVO_AUTH_ID``
=========  ===========================  ==========================================

``OMNIVOICE_PUBLIC_URL`` is the https URL carriers reach; ``OMNIVOICE_TRUST_FORWARDED=1``
takes scheme/host from ``X-Forwarded-Proto``/``X-Forwarded-Host`` (behind your own proxy).

``OMNIVOICE_SHIM_MEDIA`` picks who joins the call rooms: ``native`` (the ``omnivoice-media``
process that ``make deps`` builds: G.711 published as is, about 5x the calls per core),
``rtc`` (livekit rtc in this process, no extra binary) or ``auto`` (the default: native
when the binary is found, else rtc).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aiohttp import web

from omnivoice_rtc._errors import ConfigError, StackError
from omnivoice_rtc.carriers import (
    PlivoRestClient,
    PlivoSettings,
    TelnyxRestClient,
    TelnyxSettings,
    TwilioRestClient,
    TwilioSettings,
    VonageRestClient,
    VonageSettings,
)
from omnivoice_rtc.native import MEDIA_BINARY, NativeMediaProcess
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.shim.carriers import (
    CarrierAdapter,
    PlivoAdapter,
    TelnyxAdapter,
    TwilioAdapter,
    VonageAdapter,
)
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.routes import install_carrier_routes
from omnivoice_rtc.stack.livekit_server import find_binary
from omnivoice_rtc.web.keys import SETTINGS_KEY

__all__ = ["gateways_from_env", "install_from_env", "native_media_from_env"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _adapters(env: Mapping[str, str]) -> list[tuple[CarrierAdapter, str]]:
    """(adapter, caller id for make_call) for every carrier with a webhook key."""
    out: list[tuple[CarrierAdapter, str]] = []
    tw = TwilioSettings.from_env(env)
    if tw.auth_token:
        rest = None
        if tw.is_configured:
            rest = TwilioRestClient(
                account_sid=tw.account_sid, auth_token=tw.auth_token, base_url=tw.api_base_url
            )
        out.append((TwilioAdapter(auth_token=tw.auth_token, rest=rest), tw.from_number))
    tx = TelnyxSettings.from_env(env)
    if tx.public_key:
        tx_rest = (
            TelnyxRestClient(api_key=tx.api_key, base_url=tx.api_base_url) if tx.api_key else None
        )
        adapter = TelnyxAdapter(
            public_key=tx.public_key, rest=tx_rest, connection_id=tx.connection_id
        )
        out.append((adapter, tx.from_number))
    vo = VonageSettings.from_env(env)
    if vo.signature_secret:
        vo_rest = None
        if vo.application_id and vo.private_key:
            vo_rest = VonageRestClient(
                application_id=vo.application_id,
                private_key=vo.private_key,
                base_url=vo.api_base_url,
            )
        out.append(
            (VonageAdapter(signature_secret=vo.signature_secret, rest=vo_rest), vo.from_number)
        )
    pl = PlivoSettings.from_env(env)
    if pl.auth_token:
        pl_rest = None
        if pl.is_configured:
            pl_rest = PlivoRestClient(
                auth_id=pl.auth_id, auth_token=pl.auth_token, base_url=pl.api_base_url
            )
        out.append((PlivoAdapter(auth_token=pl.auth_token, rest=pl_rest), pl.from_number))
    return out


def native_media_from_env(env: Mapping[str, str]) -> NativeMediaOptions | None:
    """``OMNIVOICE_SHIM_MEDIA``: native media options, or None for livekit rtc."""
    choice = env.get("OMNIVOICE_SHIM_MEDIA", "auto").strip().lower() or "auto"
    if choice not in ("auto", "native", "rtc"):
        raise ConfigError(f"OMNIVOICE_SHIM_MEDIA: must be auto, native or rtc, got {choice!r}")
    if choice == "rtc":
        return None
    try:
        binary = find_binary(MEDIA_BINARY)
    except StackError:
        if choice == "native":
            raise ConfigError(
                f"OMNIVOICE_SHIM_MEDIA=native: {MEDIA_BINARY} not found in bin/ or PATH; "
                "run `make deps`"
            ) from None
        return None
    return NativeMediaOptions(process=NativeMediaProcess(binary=binary))


def gateways_from_env(
    settings: Settings, env: Mapping[str, str] | None = None
) -> list[MediaStreamGateway]:
    """One gateway per configured carrier, sharing one :class:`ShimRuntime`."""
    env = os.environ if env is None else env
    trust = env.get("OMNIVOICE_TRUST_FORWARDED", "").strip().lower()
    if trust not in _TRUE + _FALSE:
        raise ConfigError(f"OMNIVOICE_TRUST_FORWARDED: must be true or false, got {trust!r}")
    runtime = ShimRuntime(
        livekit=settings.livekit,
        agent_name=settings.tokens.agent_name,
        public_base_url=settings.web.public_url,
        trust_forwarded=trust in _TRUE,
        native_media=native_media_from_env(env),
    )
    return [
        MediaStreamGateway(adapter=adapter, runtime=runtime, from_number=caller_id)
        for adapter, caller_id in _adapters(env)
    ]


def install_from_env(app: web.Application) -> None:
    """Route installer: carrier routes for every carrier configured in the environment."""
    gateways = gateways_from_env(app[SETTINGS_KEY])
    if not gateways:
        raise ConfigError(
            "TWILIO_AUTH_TOKEN/TELNYX_PUBLIC_KEY/VONAGE_SIGNATURE_SECRET/PLIVO_AUTH_TOKEN: "
            "set at least one carrier's webhook key to serve carrier routes"
        )
    install_carrier_routes(app, gateways)
    native = gateways[0].runtime.native_media
    if native is not None:
        process = native.process

        async def stop_media_process(_app: web.Application) -> None:
            await process.aclose()

        app.on_cleanup.append(stop_media_process)
