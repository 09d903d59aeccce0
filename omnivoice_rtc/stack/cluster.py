"""The local cluster: ``omnivoice-rtc dev --livekit-nodes N --web-replicas M``.

What one machine runs to rehearse a multi-host deployment (docs/scaling.md):

=====================  ===========================================================
redis                  one, shared: livekit-server nodes (db 0, their own keys),
                       livekit-sip, and the web replicas' state (db 1:
                       ``OMNIVOICE_REDIS_URL``)
livekit-1 … livekit-N  livekit-server nodes on one Redis: HTTP 7880, 7890, …; ICE-TCP
                       7881, 7891, …; UDP 7882, 7892, … (``--livekit-port`` and the rtc
                       ports shift node 1; node *i* adds 10 × (i - 1)); their webhooks go
                       to HAProxy
agent-1 … agent-N      an agent worker registered with each node (health 8081, 8083, …)
web-1 … web-M          web/shim replicas on 8090, 8091, … (``--web-port`` + 10 + i - 1),
                       replica *i* talking to node ((i - 1) mod N) + 1, each with
                       ``OMNIVOICE_REPLICA_ID=web-<i>``; carrier routes, ``/api/calls`` and
                       the SIP gateway as in ``omnivoice-rtc dev``
haproxy                on the usual web port (8080) in front of the replicas
                       (deploy/haproxy.cfg: health checks every second, 503 retried)
livekit-sip            one, through Redis (any node can host its rooms)
=====================  ===========================================================

The default ``omnivoice-rtc dev`` (one of each) is :func:`omnivoice_rtc.stack.dev.build_dev_plan`;
this plan needs a local LiveKit (``LIVEKIT_URL`` on loopback).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from typing import Final

from omnivoice_rtc._errors import ConfigError
from omnivoice_rtc.carriers.registry import configured_carriers
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.sip.processes import redis_spec, sip_specs
from omnivoice_rtc.stack.haproxy import haproxy_spec
from omnivoice_rtc.stack.livekit_server import PROJECT_ROOT, livekit_server_spec
from omnivoice_rtc.stack.specs import HttpCheck, LogCheck, PortUse, ProcessSpec

__all__ = ["NODE_PORT_STEP", "ClusterShape", "cluster_specs"]

NODE_PORT_STEP: Final = 10
"""Node *i*'s ports are node 1's plus this × (i - 1)."""
REPLICA_PORT_OFFSET: Final = 10
"""Replica *i* listens on the web port + this + (i - 1)."""
STATE_DB: Final = 1
"""The Redis database of the web replicas' state (livekit-server keeps db 0)."""
MAX_NODES: Final = 8
MAX_REPLICAS: Final = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterShape:
    """How many of each, and where node 1 and the balancer listen."""

    livekit_nodes: int
    web_replicas: int
    livekit_port: int = 7880
    rtc_tcp_port: int = 7881
    rtc_udp_port: int = 7882
    web_port: int = 8080
    agent: bool = True
    sip: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.livekit_nodes <= MAX_NODES:
            raise ConfigError(f"--livekit-nodes: must be 1..{MAX_NODES}, got {self.livekit_nodes}")
        if not 1 <= self.web_replicas <= MAX_REPLICAS:
            raise ConfigError(f"--web-replicas: must be 1..{MAX_REPLICAS}, got {self.web_replicas}")

    def node_url(self, node: int) -> str:
        """ws URL of node ``node`` (1-based)."""
        return f"ws://127.0.0.1:{self.livekit_port + NODE_PORT_STEP * (node - 1)}"

    def replica_port(self, replica: int) -> int:
        return self.web_port + REPLICA_PORT_OFFSET + replica - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterSpecs:
    """The processes in start order, and the banner's lines."""

    specs: tuple[ProcessSpec, ...]
    urls: dict[str, str]


def _agent_spec(env: dict[str, str], node: int, health_port: int) -> ProcessSpec:
    worker = PROJECT_ROOT / "agents" / "worker.py"
    return ProcessSpec(
        name=f"agent-{node}",
        argv=(sys.executable, str(worker), "start"),
        env={**env, "OMNIVOICE_WORKER_HTTP_PORT": str(health_port)},
        cwd=str(PROJECT_ROOT),
        health=LogCheck(pattern=r"registered worker"),
        start_timeout_s=120.0,
        stop_timeout_s=10.0,
        ports=(PortUse(port=health_port, purpose="worker health"),),
    )


def cluster_specs(
    settings: Settings,
    shape: ClusterShape,
    *,
    child_env: dict[str, str],
    agent_env: dict[str, str],
    web_routes: tuple[str, ...],
) -> ClusterSpecs:
    """The cluster's processes. ``child_env``: what every child gets (keys, agent name);
    ``agent_env``: the workers' extra variables; ``web_routes``: the replicas' route
    installers (``module:function``)."""
    if not settings.livekit.is_local:
        raise ConfigError(
            "LIVEKIT_URL: --livekit-nodes/--web-replicas start a local cluster; with LiveKit "
            "Cloud run only the web replicas (docs/scaling.md)"
        )
    urls: dict[str, str] = {}
    redis_port = settings.sip.redis_port
    extension = sip_specs(settings, livekit_url=shape.node_url(1)) if shape.sip else None
    before = extension.before_livekit if extension else (redis_spec(port=redis_port),)
    specs: list[ProcessSpec] = list(before)
    balancer = f"http://127.0.0.1:{shape.web_port}"
    for node in range(1, shape.livekit_nodes + 1):
        step = NODE_PORT_STEP * (node - 1)
        spec = livekit_server_spec(
            port=shape.livekit_port + step,
            tcp_port=shape.rtc_tcp_port + step,
            udp_port=shape.rtc_udp_port + step,
            keys={settings.livekit.api_key: settings.livekit.api_secret},
            redis_host=f"127.0.0.1:{redis_port}",
            webhook_urls=(f"{balancer}/livekit/webhook",),
        )
        specs.append(dataclasses.replace(spec, name=f"livekit-{node}"))
        urls[f"LiveKit node {node}"] = shape.node_url(node)
    if shape.agent:
        for node in range(1, shape.livekit_nodes + 1):
            env = {**child_env, **agent_env, "LIVEKIT_URL": shape.node_url(node)}
            specs.append(_agent_spec(env, node, 8081 + 2 * (node - 1)))
    state_url = f"redis://127.0.0.1:{redis_port}/{STATE_DB}"
    argv: tuple[str, ...] = (sys.executable, "-m", "omnivoice_rtc.web", "--host", "127.0.0.1")
    for route in web_routes:
        argv += ("--routes", route)
    replicas: list[tuple[str, int]] = []
    for replica in range(1, shape.web_replicas + 1):
        port = shape.replica_port(replica)
        node = (replica - 1) % shape.livekit_nodes + 1
        env = {
            **child_env,
            "LIVEKIT_URL": shape.node_url(node),
            "OMNIVOICE_REDIS_URL": state_url,
            "OMNIVOICE_REPLICA_ID": f"web-{replica}",
            "OMNIVOICE_WEB_PORT": str(port),
        }
        specs.append(
            ProcessSpec(
                name=f"web-{replica}",
                argv=(*argv, "--port", str(port)),
                env=env,
                cwd=str(PROJECT_ROOT),
                health=HttpCheck(url=f"http://127.0.0.1:{port}/healthz"),
                start_timeout_s=60.0,
                stop_timeout_s=settings.web.drain_s + 10.0,
                ports=(PortUse(port=port, purpose="http (replica)"),),
            )
        )
        replicas.append(("127.0.0.1", port))
        urls[f"Replica web-{replica}"] = f"http://127.0.0.1:{port}/healthz"
    specs.append(haproxy_spec(port=shape.web_port, replicas=replicas))
    urls["Web page"] = f"{balancer}/"
    urls["Call history"] = f"{balancer}/calls"
    base = settings.web.base_url if settings.web.public_url else balancer
    for name in configured_carriers(settings.env):
        urls[f"{name} answer webhook"] = f"{base}/carriers/{name}/answer"
    urls["Redis (replicas' state)"] = state_url
    if extension is not None:
        specs.extend(extension.after_livekit)
        urls.update(extension.urls)
    return ClusterSpecs(specs=tuple(specs), urls=urls)
