"""Carrier routes for the one web server: each served carrier's webhook and media WebSocket.

===============================  =============================================================
``GET|POST /carriers/{c}/answer``  answer webhook of carrier ``c`` (a registered carrier name:
                                   twilio, telnyx, vonage, plivo, exotel)
``GET /carriers/{c}/media``        media WebSocket of carrier ``c`` (an upgrade whose own
                                   credentials its profile refuses gets 403)
``GET /carriers/media``            media WebSocket; the carrier is detected from its first frame
===============================  =============================================================

Every media WebSocket holds a slot of the socket caps (global and per client address,
:class:`~omnivoice_rtc.shim.call_guard.CallGuard`) from its upgrade to its close: beyond
them it is closed with 1013 before a frame is read.

Use :func:`carrier_route_installer` with ``create_app(settings, route_installers=[...])``,
or call :func:`install_carrier_routes` on an application directly. The gateways are
started on app startup and stopped (calls ended) on app cleanup. They take part in the
app's drain (:mod:`omnivoice_rtc.web.drain`, a rolling restart): new calls refused, live
ones waited for, the rest hung up at the deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from omnivoice_rtc._errors import (
    ProviderError,
    SessionClosedError,
    SignatureError,
    UnsupportedActionError,
)
from omnivoice_rtc.carriers.registry import AnyProfile
from omnivoice_rtc.shim.call_guard import Refused
from omnivoice_rtc.shim.carrier_control import transfer_document_path
from omnivoice_rtc.shim.carrier_paths import GENERIC_MEDIA_PATH, answer_path, media_path
from omnivoice_rtc.shim.handshake import StreamRejected, open_stream
from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway
from omnivoice_rtc.shim.policy import CallCounters
from omnivoice_rtc.state.call_routing import ActionHandler
from omnivoice_rtc.web.drain import DrainTarget
from omnivoice_rtc.web.installers import RouteInstaller
from omnivoice_rtc.web.keys import CALL_ROUTER_KEY, DRAIN_KEY, STATE_KEY

__all__ = [
    "CARRIER_GATEWAYS_KEY",
    "carrier_route_installer",
    "install_carrier_routes",
]

CARRIER_GATEWAYS_KEY: Final = web.AppKey("omnivoice_carrier_gateways", dict)
"""``app[CARRIER_GATEWAYS_KEY]``: carrier name -> :class:`MediaStreamGateway`."""
_CLOSE_TRY_AGAIN: Final = 1013


def install_carrier_routes(app: web.Application, gateways: Iterable[MediaStreamGateway]) -> None:
    """Add webhook and WebSocket routes for ``gateways`` (one per carrier) to ``app``."""
    by_carrier: dict[str, MediaStreamGateway] = {}
    for gateway in gateways:
        carrier = gateway.carrier
        if carrier in by_carrier:
            raise ValueError(f"install_carrier_routes: two gateways for carrier {carrier!r}")
        by_carrier[carrier] = gateway
    if not by_carrier:
        raise ValueError("install_carrier_routes: no gateways given")
    if len({id(g.runtime.guard) for g in by_carrier.values()}) != 1:
        raise ValueError(
            "install_carrier_routes: all gateways must share one ShimRuntime call guard"
        )
    guard = next(iter(by_carrier.values())).runtime.guard
    app[CARRIER_GATEWAYS_KEY] = by_carrier
    profiles: dict[str, AnyProfile] = {c: g.profile for c, g in by_carrier.items()}

    for carrier, gateway in by_carrier.items():
        app.router.add_route("POST", answer_path(carrier), gateway.handle_webhook)
        app.router.add_route("GET", answer_path(carrier), gateway.handle_webhook)
        app.router.add_get(media_path(carrier), _media_handler(by_carrier, profiles, carrier))
        app.router.add_route("*", transfer_document_path(carrier), gateway.control.handle_document)
    app.router.add_get(GENERIC_MEDIA_PATH, _media_handler(by_carrier, profiles, None))
    router = app.get(CALL_ROUTER_KEY)
    if router is not None:
        for carrier, gateway in by_carrier.items():
            router.handle(carrier, _hangup_handler(gateway))
    drain = app.get(DRAIN_KEY)
    if drain is not None:
        gateways_now = tuple(by_carrier.values())

        def stop_taking() -> None:
            for gateway in gateways_now:
                gateway.stop_taking_calls()

        async def end_calls(reason: str) -> None:
            await asyncio.gather(*(g.end_calls(reason) for g in gateways_now))

        drain.track(
            DrainTarget(
                name="carriers",
                stop_taking=stop_taking,
                live_calls=lambda: sum(g.live_calls for g in gateways_now),
                end_calls=end_calls,
            )
        )

    async def start_gateways(_app: web.Application) -> None:
        for gateway in by_carrier.values():
            await gateway.start()

    async def stop_gateways(_app: web.Application) -> None:
        for gateway in by_carrier.values():
            await gateway.stop()
        await guard.aclose()

    async def close_state(app_: web.Application) -> None:
        if app_.get(STATE_KEY) is not guard.state:  # the app closes its own store
            await guard.state.aclose()

    app.on_startup.append(start_gateways)
    app.on_shutdown.append(stop_gateways)
    app.on_cleanup.append(close_state)


def _hangup_handler(gateway: MediaStreamGateway) -> ActionHandler:
    """The carrier route's call-control handler for the call router: ``hangup`` (call
    control registers its own, which replaces this one, for the other actions)."""

    async def handle(call_id: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
        session = gateway.get_session(call_id)
        if session is None or session.closed:
            raise SessionClosedError(f"no live {gateway.carrier} call {call_id!r} here")
        if action != "hangup":
            raise UnsupportedActionError(
                f"{action}: not available on this route yet", action=action, route=gateway.carrier
            )
        await session.close()
        return {"ended": True}

    return handle


def carrier_route_installer(gateways: Iterable[MediaStreamGateway]) -> RouteInstaller:
    """A route installer (``(app) -> None``) for ``create_app(route_installers=...)``."""
    chosen = tuple(gateways)

    def install(app: web.Application) -> None:
        install_carrier_routes(app, chosen)

    return install


def _media_handler(
    gateways: Mapping[str, MediaStreamGateway],
    profiles: Mapping[str, AnyProfile],
    carrier: str | None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        runtime = next(iter(gateways.values())).runtime
        policy = runtime.policy
        if carrier is not None:
            try:
                profiles[carrier].verify_upgrade(request.headers)
            except SignatureError:
                return web.Response(status=403, text="invalid credentials")
        client = runtime.guard.client_of(request.remote, request.headers)
        heartbeat_s = runtime.liveness.ws_heartbeat_s or None
        ws = web.WebSocketResponse(
            max_msg_size=policy.max_frame_bytes, autoping=True, heartbeat=heartbeat_s
        )
        await ws.prepare(request)
        if carrier is not None and not gateways[carrier].started:
            await ws.close(code=_CLOSE_TRY_AGAIN, message=b"gateway not started")
            return ws
        try:
            lease = await runtime.guard.open_socket(client)
        except ProviderError:  # shared state unreachable
            lease = Refused(_CLOSE_TRY_AGAIN, "shared state unavailable")
        if isinstance(lease, Refused):
            await ws.close(code=lease.code, message=lease.reason.encode()[:120])
            return ws
        try:
            await _serve(ws, request, gateways, profiles, carrier, client)
        finally:
            await asyncio.shield(lease.release())
        return ws

    return handle


async def _serve(
    ws: web.WebSocketResponse,
    request: web.Request,
    gateways: Mapping[str, MediaStreamGateway],
    profiles: Mapping[str, AnyProfile],
    carrier: str | None,
    client: str,
) -> None:
    runtime = next(iter(gateways.values())).runtime
    counters = CallCounters()
    try:
        opened = await open_stream(
            ws,
            tokens=runtime.tokens,
            policy=runtime.policy,
            counters=counters,
            profiles=profiles,
            carrier=carrier,
            headers=request.headers,
        )
    except StreamRejected:
        return
    gateway = gateways.get(opened.carrier)
    if gateway is None or not gateway.started:
        await ws.close(code=_CLOSE_TRY_AGAIN, message=b"gateway not started")
        return
    await gateway.run_stream(ws, opened, counters, client=client)
