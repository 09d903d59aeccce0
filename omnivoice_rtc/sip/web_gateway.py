"""The web server's SIP gateway: ``--routes omnivoice_rtc.sip.web_gateway:install_sip_gateway``.

``omnivoice-rtc dev`` installs it whenever it runs livekit-sip: the web process then serves
the SIP calls' sessions (ledger records, agent liveness, call control through
``app[CALL_ROUTER_KEY]``, route ``sip``) next to the carrier routes. LiveKit's webhooks at
``/livekit/webhook`` bring it the calls (:meth:`SIPGateway.attach_webhooks`); with several
replicas each call is served by the one that claimed it, and a replica that stops leaves
its calls to the others' reconcilers (draining, it takes no new ones; at shutdown it
releases the ones it serves). ``app[SIP_GATEWAY_KEY]`` is the gateway (``on_call``
to screen calls; outbound SIP calls from here need an outbound trunk: not configured by
this installer, use ``omnivoice-rtc call --via sip``).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from omnivoice_rtc._errors import SessionClosedError, UnsupportedActionError
from omnivoice_rtc.sip.sip_gateway import REGISTRY_ROUTE, SIPGateway, SIPGatewayOptions
from omnivoice_rtc.state.call_routing import ActionHandler
from omnivoice_rtc.web.drain import DrainTarget
from omnivoice_rtc.web.keys import (
    CALL_ROUTER_KEY,
    DRAIN_KEY,
    LEDGER_KEY,
    LIVEKIT_WEBHOOKS_KEY,
    SETTINGS_KEY,
    STATE_KEY,
)

__all__ = ["SIP_GATEWAY_KEY", "install_sip_gateway"]

SIP_GATEWAY_KEY: Final = web.AppKey("omnivoice_sip_gateway", SIPGateway)


def _hangup_handler(gateway: SIPGateway) -> ActionHandler:
    """``hangup`` of a SIP call this replica serves (call control adds the other actions)."""

    async def handle(call_id: str, action: str, args: dict[str, Any]) -> dict[str, Any]:
        session = gateway.get_session(call_id)
        if session is None or session not in gateway.list_sessions():  # none, or closed
            raise SessionClosedError(f"no live sip call {call_id!r} here")
        if action != "hangup":
            raise UnsupportedActionError(
                f"{action}: not available on this route yet", action=action, route=REGISTRY_ROUTE
            )
        await session.close()
        return {"ended": True}

    return handle


def install_sip_gateway(app: web.Application) -> None:
    """Route installer: a :class:`SIPGateway` fed by the app's LiveKit webhooks, sharing its
    state store, ledger and replica id; started on start-up, stopped on shutdown."""
    settings = app[SETTINGS_KEY]
    gateway = SIPGateway(
        livekit=settings.livekit,
        options=SIPGatewayOptions(
            agent_name=settings.agent_name,
            outbound=settings.limits.outbound,
            ledger=app.get(LEDGER_KEY),
            liveness=settings.calls,
        ),
        state=app.get(STATE_KEY),
        replica_id=settings.state.replica_id,
    )
    gateway.attach_webhooks(app[LIVEKIT_WEBHOOKS_KEY])
    router = app.get(CALL_ROUTER_KEY)
    if router is not None:
        router.handle(REGISTRY_ROUTE, _hangup_handler(gateway))
    app[SIP_GATEWAY_KEY] = gateway
    drain = app.get(DRAIN_KEY)
    if drain is not None:  # SIP calls live in LiveKit, not here: take no new ones, wait for none

        async def end_none(reason: str) -> None:
            """Nothing to end: the calls go on; shutdown releases them to other replicas."""

        drain.track(
            DrainTarget(
                name="sip",
                stop_taking=gateway.discovery.pause,
                live_calls=lambda: 0,
                end_calls=end_none,
            )
        )

    async def start(_app: web.Application) -> None:
        await gateway.start()

    async def stop(_app: web.Application) -> None:
        await gateway.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
