"""The agent worker: a livekit-agents ``AgentServer`` that serves every room it is
dispatched to with your agent (or the built-in one).

``omnivoice-rtc worker dev|start|console [--agent myapp.agent:build] [--config FILE]``
(:mod:`omnivoice_rtc.cli.worker`) and ``python agents/worker.py dev|start|console`` both
run :func:`run_worker`. The server registers under ``OMNIVOICE_AGENT_NAME`` with explicit
dispatch. Jobs run in processes (or threads, ``OMNIVOICE_WORKER_EXECUTOR``); each job
gets :class:`WorkerJobSpec` (picklable: the settings and the factory reference) and loads
the factory once per process.

Start-up checks, before the server registers: the settings are safe
(``Settings.require_safe("worker")``), the factory imports and is callable, the
``--config`` file reads as a seed ``Config``; each failure is a ConfigError naming what
is wrong.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from livekit import api
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, cli
from livekit.agents.worker import ServerEnvOption

from omnivoice_rtc.agent.job import run_job
from omnivoice_rtc.agent.plugin import (
    AgentFactory,
    Remover,
    SessionPlanner,
    base_spec,
    load_agent_factory,
)
from omnivoice_rtc.logs import install_pii_filter
from omnivoice_rtc.pipelines.local import prewarm as prewarm_local
from omnivoice_rtc.settings import AgentAppSettings, AgentSettings, Settings
from omnivoice_rtc.types import PipelineMode

__all__ = ["WORKER_MODES", "WorkerJobSpec", "build_server", "check_agent", "run_worker"]

logger = logging.getLogger("omnivoice.worker")

WORKER_MODES = ("dev", "start", "console")
"""The livekit-agents modes the worker runs in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerJobSpec:
    """What every job needs (sent to job processes, so plain picklable values)."""

    agent: AgentSettings
    app: AgentAppSettings
    env: Mapping[str, str] = field(default_factory=dict)
    """The environment snapshot (``AgentSpec.pipeline="text"`` reads that pipeline from it)."""


_factories: dict[str, AgentFactory] = {}


def _factory(reference: str) -> AgentFactory | None:
    """The factory named by ``reference`` (imported once per process); None when empty."""
    if not reference:
        return None
    if reference not in _factories:
        _factories[reference] = load_agent_factory(reference)
    return _factories[reference]


def check_agent(app: AgentAppSettings) -> None:
    """Import the factory and read the ``--config`` file now (ConfigError naming them)."""
    _factory(app.factory)
    base_spec(app)


def _hang_up_with(job: JobContext) -> Remover:
    """Removes a participant through the job's LiveKit API (a phone call then ends)."""

    async def remove(room: str, identity: str) -> None:
        try:
            await job.api.room.remove_participant(
                api.RoomParticipantIdentity(room=room, identity=identity)
            )
        except api.TwirpError as exc:  # already gone (hung up first): nothing to end
            logger.info("caller not removed", extra={"code": exc.code, "error": exc.message})
        except (aiohttp.ClientError, TimeoutError) as exc:  # the session still closes
            logger.warning("caller not removed: LiveKit unreachable", extra={"error": repr(exc)})

    return remove


async def serve_job(spec: WorkerJobSpec, ctx: JobContext) -> None:
    """livekit-agents entrypoint: :func:`~omnivoice_rtc.agent.job.run_job` with a planner
    for your factory (or the built-in agent) that hangs up phone calls it ends."""
    planner = SessionPlanner(
        settings=spec.agent,
        defaults=base_spec(spec.app),
        factory=_factory(spec.app.factory),
        env=spec.env,
        remover=None if ctx.is_fake_job() else _hang_up_with(ctx),
    )
    await run_job(ctx, spec.agent, planner=planner)


def _prewarm(spec: WorkerJobSpec, proc: JobProcess) -> None:
    if spec.agent.pipeline.mode is PipelineMode.LOCAL:
        prewarm_local(spec.agent.pipeline.local)
    _factory(spec.app.factory)  # import your module on the job process's main thread


def _import_plugins(spec: WorkerJobSpec) -> None:
    """livekit plugins register themselves on import and must do so on the main thread;
    jobs run in threads in console mode (and with OMNIVOICE_WORKER_EXECUTOR=thread), so
    the ones a session may use are imported here rather than lazily inside a job (all of
    them when your factory may pick any pipeline)."""
    import livekit.plugins.silero

    if spec.agent.pipeline.mode is not PipelineMode.LOCAL or spec.app.factory:
        import livekit.plugins.google
        import livekit.plugins.openai  # noqa: F401 -- reason: see the docstring


JOBS_PER_UNIT_LOAD = 1000
"""With load shedding off, the worker reports ``running jobs / JOBS_PER_UNIT_LOAD`` as its
load: never near full, but livekit-server gives a job to the node whose workers have the
most spare capacity (sum of ``1 - load``), so equal loads of 0 sent every job to one worker
(one process: with the thread executor, one core) while another sat idle."""


def job_count_load(server: AgentServer) -> float:
    """The load a worker without load shedding reports: its running jobs, scaled by
    :data:`JOBS_PER_UNIT_LOAD` (capped at 0.5)."""
    return min(len(server.active_jobs) / JOBS_PER_UNIT_LOAD, 0.5)


def build_server(settings: Settings, *, app: AgentAppSettings | None = None) -> AgentServer:
    """The AgentServer for ``settings`` (``app`` overrides ``settings.agent_app``: the CLI's
    ``--agent`` / ``--config``)."""
    spec = WorkerJobSpec(
        agent=settings.agent, app=app or settings.agent_app, env=dict(settings.env)
    )
    worker = settings.worker
    _import_plugins(spec)
    no_shedding = worker.load_threshold_pct >= 100
    server = AgentServer(
        job_executor_type=JobExecutorType(worker.executor),
        port=(
            worker.http_port
            if worker.http_port is not None
            else ServerEnvOption(dev_default=0, prod_default=8081)  # livekit-agents' default
        ),
        load_threshold=math.inf if no_shedding else worker.load_threshold_pct / 100,
        # model loading (silero, imports) can exceed livekit's 10 s default on a busy 2-core box
        initialize_process_timeout=30.0,
        setup_fnc=functools.partial(_prewarm, spec),
        load_fnc=job_count_load if no_shedding else None,
        # livekit-agents serves Prometheus; jobs run in child processes, whose metrics reach
        # it through prometheus_client's multiprocess folder (PROMETHEUS_MULTIPROC_DIR, which
        # must be set before this process imported prometheus_client: docs/ledger.md)
        prometheus_port=worker.prometheus_port,
        prometheus_multiproc_dir=worker.prometheus_dir or None,
    )
    # livekit-agents sets up its handlers (which render extra) when the worker starts; job
    # processes forward their records to them, so one filter there covers every job.
    server.on("worker_started", lambda: install_pii_filter(settings.log))
    server.rtc_session(functools.partial(serve_job, spec), agent_name=settings.agent.agent_name)
    return server


def run_worker(
    settings: Settings,
    mode: str,
    *,
    app: AgentAppSettings | None = None,
    extra_args: tuple[str, ...] = (),
) -> None:
    """Check the agent, then run livekit-agents' CLI in ``mode`` (dev, start, console) with
    ``extra_args`` (its own flags, e.g. ``--log-level debug``). Returns when it stops."""
    if mode not in WORKER_MODES:
        raise ValueError(f"worker mode: must be one of {', '.join(WORKER_MODES)}, got {mode!r}")
    chosen = app or settings.agent_app
    check_agent(chosen)
    server = build_server(settings, app=chosen)
    argv = sys.argv
    sys.argv = [argv[0] if argv else "omnivoice-rtc", mode, *extra_args]
    try:
        cli.run_app(server)
    finally:
        sys.argv = argv
