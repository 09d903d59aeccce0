"""The ``omnivoice-rtc dev`` plan: which processes, in which order, with which env.

Order: [SIP's redis] → livekit-server → agent worker → web server → [livekit-sip].
With ``--livekit-nodes N`` / ``--web-replicas M`` (either above 1) the plan is the local
cluster instead (:mod:`omnivoice_rtc.stack.cluster`: Redis, N livekit-server nodes, a
worker per node, M web replicas behind HAProxy, livekit-sip).

The web server serves the SIP calls too (``omnivoice_rtc.sip.web_gateway``) whenever
livekit-sip runs; SIGTERM drains it (``OMNIVOICE_DRAIN_S``, 10 s here unless set).
Parts written by other features are included only when present in the tree:
``agents/worker.py``, ``omnivoice_rtc/web/__main__.py`` and
``omnivoice_rtc.sip.processes.sip_specs(settings) -> StackExtension``.
When ``LIVEKIT_URL`` is not a loopback URL (e.g. LiveKit Cloud) no livekit-server is
started and the agent and web server use that URL.

Your agent (``OMNIVOICE_AGENT=myapp.agent:build``, docs/agents.md): the worker gets the
reference, the directory ``omnivoice-rtc dev`` was started in on its ``PYTHONPATH`` (the
worker runs in the project root, your module lives where you are) and
``OMNIVOICE_AGENT_CONFIG`` as an absolute path. Without one, the built-in agent greets
whoever joins (:data:`DEV_GREETING`; set ``OMNIVOICE_GREETING=`` to keep it quiet).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from omnivoice_rtc.carriers.registry import configured_carriers, enable_vars
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.stack.cluster import ClusterShape, cluster_specs
from omnivoice_rtc.stack.livekit_server import PROJECT_ROOT, livekit_server_spec
from omnivoice_rtc.stack.specs import HttpCheck, LogCheck, PortUse, ProcessSpec, StackExtension

__all__ = ["DEV_GREETING", "DevOptions", "DevPlan", "build_dev_plan"]


class SipSpecs(Protocol):
    """``omnivoice_rtc.sip.processes.sip_specs``: redis + livekit-sip around livekit-server."""

    def __call__(self, settings: Settings, *, livekit_url: str | None = None) -> StackExtension: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DevOptions:
    """Ports and parts of the dev stack. ``None`` ports come from settings/defaults."""

    livekit_port: int | None = None
    rtc_tcp_port: int = 7881
    rtc_udp_port: int = 7882
    web_port: int | None = None
    agent: bool = True
    web: bool = True
    sip: bool = True
    livekit_nodes: int = 1
    web_replicas: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DevPlan:
    """The processes to start and the lines of the banner printed once they are up."""

    specs: tuple[ProcessSpec, ...]
    urls: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


CARRIER_ROUTES = "omnivoice_rtc.shim.install:install_from_env"
"""Route installer for the carrier webhooks and media WebSockets."""
CALLS_ROUTES = "omnivoice_rtc.web.calls_api:install_calls_api"
"""Route installer for ``POST /api/calls`` (``omnivoice-rtc call`` over a carrier)."""
SIP_ROUTES = "omnivoice_rtc.sip.web_gateway:install_sip_gateway"
"""Route installer for the web server's SIP gateway (LiveKit webhooks → SIP sessions)."""
DEV_DRAIN_S = 10.0
"""``OMNIVOICE_DRAIN_S`` of the dev stack's web servers unless set: Ctrl-C stays quick."""


def _load_sip_specs() -> SipSpecs | None:
    if importlib.util.find_spec("omnivoice_rtc.sip") is None:
        return None
    if importlib.util.find_spec("omnivoice_rtc.sip.processes") is None:
        return None
    module = importlib.import_module("omnivoice_rtc.sip.processes")
    sip_specs: SipSpecs = module.sip_specs
    return sip_specs


def _child_env(settings: Settings, livekit_url: str) -> dict[str, str]:
    env = {
        "LIVEKIT_URL": livekit_url,
        "LIVEKIT_API_KEY": settings.livekit.api_key,
        "LIVEKIT_API_SECRET": settings.livekit.api_secret,
        "OMNIVOICE_AGENT_NAME": settings.agent_name,
        "PYTHONUNBUFFERED": "1",
    }
    if "OMNIVOICE_DRAIN_S" not in settings.env:
        env["OMNIVOICE_DRAIN_S"] = str(DEV_DRAIN_S)
    return env


def _drain_s(settings: Settings) -> float:
    return settings.web.drain_s if "OMNIVOICE_DRAIN_S" in settings.env else DEV_DRAIN_S


def _agent_env(settings: Settings) -> dict[str, str]:
    """The worker's variables beyond :func:`_child_env`."""
    env: dict[str, str] = {}
    # On a developer machine the worker should take jobs even when the CPU is busy.
    explicit = "OMNIVOICE_WORKER_LOAD_THRESHOLD" in settings.env
    env["OMNIVOICE_WORKER_LOAD_THRESHOLD"] = (
        str(settings.worker.load_threshold_pct) if explicit else "100"
    )
    if settings.worker.prometheus_port is not None and not settings.worker.prometheus_dir:
        # the jobs' metrics too: prometheus_client reads this when the worker imports it
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="omnivoice-metrics-")
    env.update(_your_agent_env(settings))
    return env


def _web_routes(settings: Settings, *, sip: bool) -> tuple[str, ...]:
    routes: tuple[str, ...] = ()
    if configured_carriers(settings.env):
        # Carrier webhooks + media WebSockets on the same server (docs/shim.md).
        routes += (CARRIER_ROUTES, CALLS_ROUTES)
    if sip and settings.livekit.is_local and _load_sip_specs() is not None:
        routes += (SIP_ROUTES,)
    return routes


def _cluster_plan(settings: Settings, options: DevOptions) -> DevPlan:
    shape = ClusterShape(
        livekit_nodes=options.livekit_nodes,
        web_replicas=options.web_replicas,
        livekit_port=options.livekit_port or 7880,
        rtc_tcp_port=options.rtc_tcp_port,
        rtc_udp_port=options.rtc_udp_port,
        web_port=options.web_port or settings.web.port,
        agent=options.agent,
        sip=options.sip,
    )
    built = cluster_specs(
        settings,
        shape,
        child_env=_child_env(settings, shape.node_url(1)),
        agent_env=_agent_env(settings),
        web_routes=_web_routes(settings, sip=options.sip),
    )
    notes = (
        f"cluster: {shape.livekit_nodes} livekit-server node(s), {shape.web_replicas} web "
        "replica(s) behind haproxy, one Redis (docs/scaling.md)",
    )
    return DevPlan(specs=built.specs, urls=built.urls, notes=notes)


DEV_GREETING = "Hello! This is the omnivoice demo agent. How can I help?"
"""The built-in agent's greeting in the dev stack (unless OMNIVOICE_GREETING is set)."""


def _your_agent_env(settings: Settings) -> dict[str, str]:
    """What the worker needs to import your agent from the directory you are in; without
    one, the built-in agent greets (``DEV_GREETING``) unless ``OMNIVOICE_GREETING`` is set."""
    app = settings.agent_app
    env: dict[str, str] = {}
    if not app.factory and "OMNIVOICE_GREETING" not in settings.env:
        env["OMNIVOICE_GREETING"] = DEV_GREETING
    if app.factory:
        here = str(Path.cwd())
        inherited = settings.env.get("PYTHONPATH", "")
        env["OMNIVOICE_AGENT"] = app.factory
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, inherited) if p)
    if app.config_file:
        env["OMNIVOICE_AGENT_CONFIG"] = str(Path(app.config_file).resolve())
    return env


def build_dev_plan(settings: Settings, options: DevOptions) -> DevPlan:
    """The dev stack for ``settings`` (from the environment) and ``options`` (CLI flags)."""
    if options.livekit_nodes > 1 or options.web_replicas > 1:
        return _cluster_plan(settings, options)
    specs: list[ProcessSpec] = []
    urls: dict[str, str] = {}
    notes: list[str] = []

    livekit_url = settings.livekit.url
    port = options.livekit_port or urlsplit(livekit_url).port or 7880
    if settings.livekit.is_local:
        livekit_url = f"ws://127.0.0.1:{port}"

    extension = StackExtension()
    if options.sip:
        sip_specs = _load_sip_specs()
        if sip_specs is None:
            notes.append("SIP: omnivoice_rtc.sip.processes not present; not started")
        else:
            # livekit-sip must follow livekit-server when --livekit-port moved it.
            extension = sip_specs(settings, livekit_url=livekit_url)

    web_port = options.web_port or settings.web.port
    probe_host = "127.0.0.1" if settings.web.host in ("0.0.0.0", "") else settings.web.host
    # LiveKit's webhooks open and close the call ledger's records (docs/ledger.md)
    webhooks = (f"http://{probe_host}:{web_port}/livekit/webhook",) if options.web else ()
    if settings.livekit.is_local:
        specs.extend(extension.before_livekit)
        specs.append(
            livekit_server_spec(
                port=port,
                tcp_port=options.rtc_tcp_port,
                udp_port=options.rtc_udp_port,
                keys={settings.livekit.api_key: settings.livekit.api_secret},
                redis_host=extension.redis_host,
                webhook_urls=webhooks,
            )
        )
    else:
        notes.append(f"LiveKit: using {livekit_url} (LIVEKIT_URL is not local; no server started)")
    urls["LiveKit"] = livekit_url
    env = _child_env(settings, livekit_url)

    worker = PROJECT_ROOT / "agents" / "worker.py"
    if not options.agent:
        notes.append("agent worker: disabled (--no-agent)")
    elif worker.is_file():
        health_port = settings.worker.http_port if settings.worker.http_port is not None else 8081
        agent_env = {**env, **_agent_env(settings)}
        specs.append(
            ProcessSpec(
                name="agent",
                argv=(sys.executable, str(worker), "start"),
                env=agent_env,
                cwd=str(PROJECT_ROOT),
                health=LogCheck(pattern=r"registered worker"),
                start_timeout_s=120.0,
                stop_timeout_s=10.0,
                ports=(
                    (PortUse(port=health_port, purpose="worker health"),) if health_port else ()
                ),
            )
        )
        urls["Agent"] = f"{settings.agent_name} (explicit dispatch)"
        if settings.agent_app.factory:
            urls["Your agent"] = settings.agent_app.factory
    else:
        notes.append("agent worker: agents/worker.py not present; not started")

    if not options.web:
        notes.append("web server: disabled (--no-web)")
    elif (PROJECT_ROOT / "omnivoice_rtc" / "web" / "__main__.py").is_file():
        host = settings.web.host
        web_argv: tuple[str, ...] = (sys.executable, "-m", "omnivoice_rtc.web", "--host", host)
        # which carriers are configured: the carrier registry (omnivoice_rtc.carriers)
        carriers = configured_carriers(settings.env)
        for route in _web_routes(settings, sip=options.sip):
            web_argv += ("--routes", route)
        if not carriers:
            *first, last = enable_vars()
            notes.append(
                f"carrier routes: off (set {', '.join(first)} or {last} to answer carrier "
                "media streams)"
            )
        specs.append(
            ProcessSpec(
                name="web",
                argv=(*web_argv, "--port", str(web_port)),
                env={**env, "OMNIVOICE_WEB_PORT": str(web_port)},
                cwd=str(PROJECT_ROOT),
                health=HttpCheck(url=f"http://{probe_host}:{web_port}/healthz"),
                start_timeout_s=60.0,
                stop_timeout_s=_drain_s(settings) + 10.0,
                ports=(PortUse(port=web_port, protocol="tcp", host=probe_host, purpose="http"),),
            )
        )
        local = f"http://{probe_host}:{web_port}"
        urls["Web page"] = local + "/"
        urls["Call history"] = local + "/calls"
        base = settings.web.base_url if settings.web.public_url else local
        for name in carriers:
            urls[f"{name} answer webhook"] = f"{base}/carriers/{name}/answer"
        if settings.web.public_url:
            urls["Public URL"] = settings.web.base_url + "/"
    else:
        notes.append("web server: omnivoice_rtc/web/__main__.py not present; not started")

    if settings.livekit.is_local:
        specs.extend(extension.after_livekit)
    else:
        specs.extend(extension.before_livekit + extension.after_livekit)
    urls.update(extension.urls)
    return DevPlan(specs=tuple(specs), urls=urls, notes=tuple(notes))
