"""The omnivoice agent worker: a livekit-agents AgentServer serving every room it is
dispatched to (browser rooms and call rooms alike).

    python agents/worker.py dev       # development mode (debug logs, no load shedding)
    python agents/worker.py start     # production mode
    python agents/worker.py console   # talk to the agent in this terminal

It registers under ``OMNIVOICE_AGENT_NAME`` (default ``omnivoice-agent``) with explicit
dispatch: a room gets the agent through a token's RoomConfiguration.agents or the
AgentDispatch API, never automatically. Configuration is read (and validated, failing
at startup with the variable's name) from the environment: LIVEKIT_URL,
LIVEKIT_API_KEY, LIVEKIT_API_SECRET, the pipeline (OMNIVOICE_PIPELINE, ...) and
session settings documented in docs/sessions.md. Worker knobs:

``OMNIVOICE_WORKER_EXECUTOR``   process (default) | thread: how jobs run
``OMNIVOICE_WORKER_HTTP_PORT``  health-check port (default: 8081 in start mode, any free
                                port in dev mode; 0 = any)
``OMNIVOICE_WORKER_LOAD_THRESHOLD`` percent CPU load above which the worker stops
                                taking jobs in start mode (default 70). 100 disables load
                                shedding: the worker reports load 0, because livekit-server
                                also skips workers whose reported load is high (busy CI boxes)
``OMNIVOICE_WORKER_PROMETHEUS_PORT`` serve Prometheus metrics on this port's /metrics
                                (livekit-agents' and omnivoice's); with
                                ``PROMETHEUS_MULTIPROC_DIR`` set, every job process's too
"""

from __future__ import annotations

import logging
import math
import sys

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, cli
from livekit.agents.worker import ServerEnvOption

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.job import run_job
from omnivoice_rtc.logs import install_pii_filter
from omnivoice_rtc.pipelines.local import prewarm as prewarm_local
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.types import PipelineMode

logger = logging.getLogger("omnivoice.worker")


def _load_settings() -> Settings:
    try:
        settings = Settings.from_env()
        settings.require_safe("worker")
    except ConfigError as exc:
        print(f"omnivoice worker: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


SETTINGS = _load_settings()
AGENT = SETTINGS.agent
WORKER = SETTINGS.worker

# livekit plugins register themselves on import and must do so on the main thread; jobs
# run in threads in console mode (and with OMNIVOICE_WORKER_EXECUTOR=thread), so import
# the ones the pipeline uses here rather than lazily inside a job.
import livekit.plugins.silero  # noqa: E402 -- reason: see the comment above

if AGENT.pipeline.mode is not PipelineMode.LOCAL:
    import livekit.plugins.google
    import livekit.plugins.openai  # noqa: F401 -- reason: see the comment above

_no_shedding = WORKER.load_threshold_pct >= 100
server = AgentServer(
    job_executor_type=JobExecutorType(WORKER.executor),
    port=(
        WORKER.http_port
        if WORKER.http_port is not None
        else ServerEnvOption(dev_default=0, prod_default=8081)  # livekit-agents' default
    ),
    load_threshold=math.inf if _no_shedding else WORKER.load_threshold_pct / 100,
    # model loading (silero, imports) can exceed livekit's 10 s default on a busy 2-core box
    initialize_process_timeout=30.0,
    setup_fnc=None,
    load_fnc=(lambda: 0.0) if _no_shedding else None,
    # livekit-agents serves Prometheus; jobs run in child processes, whose metrics reach
    # it through prometheus_client's multiprocess folder (PROMETHEUS_MULTIPROC_DIR, which
    # must be set before this process imported prometheus_client: docs/ledger.md)
    prometheus_port=WORKER.prometheus_port,
    prometheus_multiproc_dir=WORKER.prometheus_dir or None,
)


def _prewarm(proc: JobProcess) -> None:
    if AGENT.pipeline.mode is PipelineMode.LOCAL:
        prewarm_local(AGENT.pipeline.local)


server.setup_fnc = _prewarm
# livekit-agents sets up its handlers (which render extra) when the worker starts; job
# processes forward their records to them, so one filter there covers every job.
server.on("worker_started", lambda: install_pii_filter(SETTINGS.log))


@server.rtc_session(agent_name=AGENT.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    await run_job(ctx, AGENT)


if __name__ == "__main__":
    cli.run_app(server)
