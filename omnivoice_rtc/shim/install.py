"""Build the carrier gateways from the environment (the web server's ``--routes`` path).

``python -m omnivoice_rtc.web --routes omnivoice_rtc.shim.install:install_from_env`` (or
``OMNIVOICE_WEB_ROUTES``) serves every registered carrier
(:mod:`omnivoice_rtc.carriers.registry`) whose enabling variable is set (its settings
class's ``ENABLE_VAR``: the webhook key, e.g. ``TWILIO_AUTH_TOKEN``); its REST variables
enable make_call and REST hang-up. Each carrier's settings class (in its
``carriers/<name>.py``) documents all its variables; docs/carriers.md has the table.
``OMNIVOICE_PUBLIC_URL`` is the https URL carriers reach; ``OMNIVOICE_TRUST_FORWARDED=1``
takes scheme/host from ``X-Forwarded-Proto``/``X-Forwarded-Host`` (behind your own proxy,
and only when no public URL is set).

``OMNIVOICE_REDIS_URL`` puts stream tokens, replay records, counters and the live-call
registry in Redis (every replica shares them); the limits are ``Settings.limits``
(docs/settings.md, "Limits").

``OMNIVOICE_SHIM_MEDIA`` picks who joins the call rooms: ``native`` (the ``omnivoice-media``
process that ``make deps`` builds: G.711 published as is, about 5x the calls per core),
``rtc`` (livekit rtc in this process, no extra binary) or ``auto`` (the default: native
when the binary is found, else rtc).
"""

from __future__ import annotations

from aiohttp import web

from omnivoice_rtc._errors import ConfigError, StackError
from omnivoice_rtc.carriers.registry import enable_vars, profiles_from_settings
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.livekit.ffi_router import set_ffi_routing
from omnivoice_rtc.native import MEDIA_BINARY, NativeMediaProcess
from omnivoice_rtc.settings import Settings, ShimSettings
from omnivoice_rtc.shim.call_guard import CallGuard
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway, ShimRuntime
from omnivoice_rtc.shim.native_call_room import NativeMediaOptions
from omnivoice_rtc.shim.routes import install_carrier_routes
from omnivoice_rtc.stack.livekit_server import find_binary
from omnivoice_rtc.state import StateStore, state_store_from_settings
from omnivoice_rtc.web.keys import LEDGER_KEY, SETTINGS_KEY, STATE_KEY

__all__ = ["gateways_from_settings", "install_from_env", "native_media_options"]


def native_media_options(shim: ShimSettings) -> NativeMediaOptions | None:
    """``OMNIVOICE_SHIM_MEDIA``: native media options, or None for livekit rtc."""
    if shim.media == "rtc":
        return None
    try:
        binary = find_binary(MEDIA_BINARY)
    except StackError:
        if shim.media == "native":
            raise ConfigError(
                f"OMNIVOICE_SHIM_MEDIA=native: {MEDIA_BINARY} not found in bin/ or PATH; "
                "run `make deps`"
            ) from None
        return None
    return NativeMediaOptions(process=NativeMediaProcess(binary=binary))


def gateways_from_settings(
    settings: Settings,
    *,
    state: StateStore | None = None,
    ledger: LedgerService | None = None,
) -> list[MediaStreamGateway]:
    """One gateway per enabled carrier, sharing one :class:`ShimRuntime`; ``state`` is the
    shared store (default: one from ``settings.state``), ``ledger`` records the calls."""
    set_ffi_routing(settings.shim.ffi_routing)
    guard = CallGuard(
        state=state if state is not None else state_store_from_settings(settings.state),
        limits=settings.limits,
        replica_id=settings.state.replica_id,
    )
    runtime = ShimRuntime(
        livekit=settings.livekit,
        agent_name=settings.tokens.agent_name,
        guard=guard,
        public_base_url=settings.web.public_url,
        trust_forwarded=settings.shim.trust_forwarded,
        native_media=native_media_options(settings.shim),
        ledger=ledger,
        liveness=settings.calls,
    )
    return [
        MediaStreamGateway(profile=p, runtime=runtime)
        for p in profiles_from_settings(settings.carriers)
    ]


def install_from_env(app: web.Application) -> None:
    """Route installer: carrier routes for every carrier configured in the environment."""
    gateways = gateways_from_settings(
        app[SETTINGS_KEY], state=app.get(STATE_KEY), ledger=app.get(LEDGER_KEY)
    )
    if not gateways:
        raise ConfigError(
            f"{'/'.join(enable_vars())}: set at least one carrier's webhook key to serve "
            "carrier routes"
        )
    install_carrier_routes(app, gateways)
    native = gateways[0].runtime.native_media
    if native is not None:
        process = native.process

        async def stop_media_process(_app: web.Application) -> None:
            await process.aclose()

        app.on_cleanup.append(stop_media_process)
