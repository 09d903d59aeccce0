"""The local cluster plan: one Redis, N livekit-server nodes on it, a worker per node, M web
replicas behind HAProxy on the web port, livekit-sip; ports never collide."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.stack import dev as dev_module
from omnivoice_rtc.stack.dev import DevOptions, build_dev_plan
from omnivoice_rtc.stack.haproxy import haproxy_config
from omnivoice_rtc.stack.specs import HttpCheck

pytestmark = pytest.mark.unit

LOCAL = {
    "LIVEKIT_API_KEY": "clusterkey",
    "LIVEKIT_API_SECRET": "s" * 32,
    "TWILIO_AUTH_TOKEN": "tw",
}


def _arg(argv: tuple[str, ...], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_two_nodes_two_replicas_and_a_balancer() -> None:
    plan = build_dev_plan(Settings.from_env(LOCAL), DevOptions(livekit_nodes=2, web_replicas=2))
    by_name = {spec.name: spec for spec in plan.specs}
    # livekit-egress joins when bin/livekit-egress is installed (make test installs it)
    assert [s.name for s in plan.specs if s.name != "livekit-egress"] == [
        "redis",
        "livekit-1",
        "livekit-2",
        "agent-1",
        "agent-2",
        "web-1",
        "web-2",
        "haproxy",
        "livekit-sip",
    ]
    one, two = by_name["livekit-1"].argv, by_name["livekit-2"].argv
    assert (_arg(one, "--port"), _arg(two, "--port")) == ("7880", "7890")
    assert (_arg(one, "--udp-port"), _arg(two, "--udp-port")) == ("7882", "7892")
    assert _arg(one, "--redis-host") == _arg(two, "--redis-host") == "127.0.0.1:6379"
    assert "http://127.0.0.1:8080/livekit/webhook" in _arg(one, "--config-body")  # the balancer
    assert by_name["agent-1"].env["LIVEKIT_URL"] == "ws://127.0.0.1:7880"
    assert by_name["agent-2"].env["LIVEKIT_URL"] == "ws://127.0.0.1:7890"
    for replica, port, node in ((1, 8090, 7880), (2, 8091, 7890)):
        web = by_name[f"web-{replica}"]
        assert _arg(web.argv, "--port") == str(port)
        assert web.env["OMNIVOICE_REPLICA_ID"] == f"web-{replica}"
        assert web.env["OMNIVOICE_REDIS_URL"] == "redis://127.0.0.1:6379/1"
        assert web.env["LIVEKIT_URL"] == f"ws://127.0.0.1:{node}"
        assert dev_module.CARRIER_ROUTES in web.argv
        assert dev_module.SIP_ROUTES in web.argv
    assert by_name["haproxy"].health == HttpCheck(url="http://127.0.0.1:8080/healthz")
    ports = [(p.protocol, p.port) for spec in plan.specs for p in spec.ports]
    assert len(ports) == len(set(ports)), ports
    assert plan.urls["Web page"] == "http://127.0.0.1:8080/"


def test_the_balancer_checks_health_and_retries_a_draining_replica() -> None:
    text = haproxy_config(
        bind="127.0.0.1", port=8080, replicas=[("10.0.0.1", 8090), ("10.0.0.2", 8090)]
    )
    assert "bind 127.0.0.1:8080" in text
    assert "    server web-1 10.0.0.1:8090 check" in text
    assert "    server web-2 10.0.0.2:8090 check" in text
    assert "option httpchk GET /healthz" in text
    assert "retry-on conn-failure empty-response 503" in text


def test_a_remote_livekit_has_no_local_cluster() -> None:
    settings = Settings.from_env({**LOCAL, "LIVEKIT_URL": "wss://x.livekit.cloud"})
    with pytest.raises(ConfigError, match="LIVEKIT_URL"):
        build_dev_plan(settings, DevOptions(livekit_nodes=2, web_replicas=2))


def test_the_default_dev_stack_stays_one_of_each() -> None:
    plan = build_dev_plan(Settings.from_env(LOCAL), DevOptions(sip=False, agent=False))
    assert [s.name for s in plan.specs] == ["livekit-server", "web"]
