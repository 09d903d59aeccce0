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
"""

from __future__ import annotations

import logging
import math
import os
import sys

from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess, cli
from livekit.agents.worker import ServerEnvOption

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.job import AgentSettings, run_job
from omnivoice_rtc.pipelines.local import prewarm as prewarm_local
from omnivoice_rtc.settings import env_int, env_str
from omnivoice_rtc.types import PipelineMode

logger = logging.getLogger("omnivoice.worker")


def _load_settings() -> AgentSettings:
    try:
        return AgentSettings.from_env()
    except ConfigError as exc:
        print(f"omnivoice worker: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _executor() -> JobExecutorType:
    name = env_str(os.environ, "OMNIVOICE_WORKER_EXECUTOR", "process").lower()
    if name not in ("process", "thread"):
        print(
            f"omnivoice worker: configuration error: OMNIVOICE_WORKER_EXECUTOR: must be "
            f"process or thread; got {name!r}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return JobExecutorType(name)


SETTINGS = _load_settings()

# livekit plugins register themselves on import and must do so on the main thread; jobs
# run in threads in console mode (and with OMNIVOICE_WORKER_EXECUTOR=thread), so import
# the ones the pipeline uses here rather than lazily inside a job.
import livekit.plugins.silero  # noqa: E402 -- reason: see the comment above

if SETTINGS.pipeline.mode is not PipelineMode.LOCAL:
    import livekit.plugins.google
    import livekit.plugins.openai  # noqa: F401 -- reason: see the comment above
_load_pct = env_int(os.environ, "OMNIVOICE_WORKER_LOAD_THRESHOLD", 70, minimum=1, maximum=100)

server = AgentServer(
    job_executor_type=_executor(),
    port=(
        env_int(os.environ, "OMNIVOICE_WORKER_HTTP_PORT", 8081, minimum=0, maximum=65535)
        if os.environ.get("OMNIVOICE_WORKER_HTTP_PORT", "").strip()
        else ServerEnvOption(dev_default=0, prod_default=8081)  # livekit-agents' default
    ),
    load_threshold=math.inf if _load_pct >= 100 else _load_pct / 100,
    # model loading (silero, imports) can exceed livekit's 10 s default on a busy 2-core box
    initialize_process_timeout=30.0,
    setup_fnc=None,
    load_fnc=(lambda: 0.0) if _load_pct >= 100 else None,
)


def _prewarm(proc: JobProcess) -> None:
    if SETTINGS.pipeline.mode is PipelineMode.LOCAL:
        prewarm_local(SETTINGS.pipeline.local)


server.setup_fnc = _prewarm


@server.rtc_session(agent_name=SETTINGS.agent_name)
async def entrypoint(ctx: JobContext) -> None:
    await run_job(ctx, SETTINGS)


if __name__ == "__main__":
    cli.run_app(server)
