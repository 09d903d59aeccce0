"""The omnivoice agent worker as a script (``omnivoice-rtc worker`` is the same thing).

    python agents/worker.py dev       # development mode (debug logs, no load shedding)
    python agents/worker.py start     # production mode
    python agents/worker.py console   # talk to the agent in this terminal

It registers under ``OMNIVOICE_AGENT_NAME`` (default ``omnivoice-agent``) with explicit
dispatch: a room gets the agent through a token's RoomConfiguration.agents or the
AgentDispatch API, never automatically. Your agent: ``OMNIVOICE_AGENT=myapp.agent:build``
(a factory ``build(ctx) -> Agent | AgentSpec``, docs/agents.md) and
``OMNIVOICE_AGENT_CONFIG`` (a seed Config file); unset, the built-in agent runs.
Configuration is read (and validated, failing at startup with the variable's name) from
the environment: LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, the pipeline
(OMNIVOICE_PIPELINE, ...) and session settings documented in docs/sessions.md. Worker
knobs:

``OMNIVOICE_WORKER_EXECUTOR``   process (default) | thread: how jobs run
``OMNIVOICE_WORKER_HTTP_PORT``  health-check port (default: 8081 in start mode, any free
                                port in dev mode; 0 = any)
``OMNIVOICE_WORKER_LOAD_THRESHOLD`` percent CPU load above which the worker stops
                                taking jobs in start mode (default 70). 100 disables load
                                shedding: the worker reports its running jobs / 1000 as
                                load (never near full: livekit-server also skips workers
                                whose reported load is high, busy CI boxes), so jobs still
                                go to the worker with the fewest
``OMNIVOICE_WORKER_PROMETHEUS_PORT`` serve Prometheus metrics on this port's /metrics
                                (livekit-agents' and omnivoice's); with
                                ``PROMETHEUS_MULTIPROC_DIR`` set, every job process's too

Everything else (the server, the job entrypoint, the start-up checks) is
:mod:`omnivoice_rtc.agent.worker_server`; this file stays a thin wrapper.
"""

from __future__ import annotations

import sys

from omnivoice_rtc import ConfigError
from omnivoice_rtc.agent.worker_server import WORKER_MODES, run_worker
from omnivoice_rtc.settings import Settings


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in WORKER_MODES:
        print(f"usage: python agents/worker.py {{{','.join(WORKER_MODES)}}} [options]")
        return 2
    try:
        settings = Settings.from_env()
        settings.require_safe("worker")
        run_worker(settings, argv[0], extra_args=tuple(argv[1:]))
    except ConfigError as exc:
        print(f"omnivoice worker: configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
