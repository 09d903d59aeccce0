"""The web server's SIP gateway installer: one gateway on the app, fed by its LiveKit
webhooks, sharing its state store and replica id, reachable by call control (route sip)."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import SessionClosedError
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.sip.sip_gateway import REGISTRY_ROUTE
from omnivoice_rtc.sip.web_gateway import SIP_GATEWAY_KEY, install_sip_gateway
from omnivoice_rtc.web import create_app
from omnivoice_rtc.web.keys import CALL_ROUTER_KEY, DRAIN_KEY, SETTINGS_KEY

pytestmark = pytest.mark.unit


async def test_the_gateway_shares_the_apps_webhooks_state_and_replica_id() -> None:
    app = create_app(Settings.from_env({}), route_installers=[install_sip_gateway])
    gateway = app[SIP_GATEWAY_KEY]
    replica_id = app[SETTINGS_KEY].state.replica_id
    assert replica_id  # one generated name for the whole process
    assert gateway.registry.replica_id == replica_id
    assert app[CALL_ROUTER_KEY].replica_id == replica_id
    assert gateway.discovery.interval_s == 30.0  # webhooks attached: the scan reconciles
    router = app[CALL_ROUTER_KEY]
    owner = router.registry.owner_token("t")
    assert await router.registry.claim(REGISTRY_ROUTE, "SCL_1", owner)
    with pytest.raises(SessionClosedError, match="no live sip call 'SCL_1' here"):
        await router.dispatch(REGISTRY_ROUTE, "SCL_1", "hangup")
    app[DRAIN_KEY].begin()  # a rolling restart: no new SIP calls taken here
    assert gateway.discovery.paused
    assert app[DRAIN_KEY].live_calls() == 0  # SIP calls do not hold the drain
