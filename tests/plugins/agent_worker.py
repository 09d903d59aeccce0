"""Pytest plugin: the real agent worker (agents/worker.py) against ``livekit_server``.

Fixtures:

* ``agent_worker`` (session): ``agents/worker.py start`` with the default ``local``
  pipeline, registered under a unique agent name; yields :class:`AgentWorker`.
* ``agent_worker_factory`` (session): ``factory(env={...}, agent_name=None)`` starts
  another worker with extra environment (e.g. ``OMNIVOICE_PIPELINE=text`` and fake
  provider base URLs); every worker it started is stopped at the end of the session.

Dispatch the agent to a room with ``worker.dispatch(livekit_api, room)`` (server
AgentDispatch API) or put ``worker.agent_name`` in a token's RoomConfiguration.agents.
Each worker logs to ``<pytest basetemp>/agent-worker-<name>.log`` (JSON lines) and
records its calls in the session's ledger ``<pytest basetemp>/calls.db``
(``worker.ledger_url``; the e2e tests read the same file).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from livekit import api

from tests.conftest import ROOT
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["AgentWorker", "agent_worker", "agent_worker_factory", "start_agent_worker"]

_REGISTER_TIMEOUT_S = 180.0  # a worker loading Whisper beside a parallel test run
_STOP_TIMEOUT_S = 10.0


@dataclass(slots=True, kw_only=True)
class AgentWorker:
    """A running agents/worker.py process registered with ``server``."""

    agent_name: str
    server: LiveKitServer
    process: subprocess.Popen[bytes]
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)
    ledger_url: str = ""
    """The call ledger the worker records to (``OMNIVOICE_DATABASE_URL``)."""

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    async def dispatch(self, livekit_api: api.LiveKitAPI, room: str, *, metadata: str = "") -> str:
        """Dispatch this worker's agent to ``room`` (created on demand); returns the dispatch id."""
        dispatch = await livekit_api.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=self.agent_name, room=room, metadata=metadata)
        )
        return dispatch.id

    def wait_warm(self, timeout_s: float = 60.0) -> None:
        """Wait until a job process is initialized (a job then starts without waiting for
        one: what a long-running worker looks like to a call; timing tests use it)."""
        deadline = time.monotonic() + timeout_s
        while '"process initialized"' not in self.log_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"no job process ready:\n{self.log_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=_STOP_TIMEOUT_S)


def start_agent_worker(
    server: LiveKitServer,
    *,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    agent_name: str | None = None,
    command: Sequence[str] | None = None,
) -> AgentWorker:
    """Start agents/worker.py in ``start`` mode and wait until it registered (_REGISTER_TIMEOUT_S max).

    ``command`` replaces ``[python, agents/worker.py]`` (e.g. the ``omnivoice-rtc worker``
    form); ``start --log-level debug`` is appended either way."""
    name = agent_name or f"omnivoice-test-{secrets.token_hex(3)}"
    log_file = log_dir / f"agent-worker-{name}.log"
    ledger_url = (env or {}).get("OMNIVOICE_DATABASE_URL") or f"sqlite:///{log_dir / 'calls.db'}"
    child_env = {
        **os.environ,
        **server.env(),
        # this checkout's package, not the one the shared venv's editable install names
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        "OMNIVOICE_AGENT_NAME": name,
        "OMNIVOICE_WORKER_HTTP_PORT": "0",
        "OMNIVOICE_WORKER_LOAD_THRESHOLD": "100",
        "OMNIVOICE_JOIN_TIMEOUT_S": "30",
        "OMNIVOICE_DATABASE_URL": ledger_url,
        **(env or {}),
    }
    for key in ("OPENAI_API_KEY", "GOOGLE_API_KEY"):
        if env is None or key not in env:
            child_env.pop(key, None)  # the default worker is the keyless local pipeline
    log = log_file.open("ab")
    process = subprocess.Popen(
        [
            *(command or (sys.executable, str(ROOT / "agents" / "worker.py"))),
            "start",
            "--log-level",
            "debug",
        ],
        cwd=ROOT,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    worker = AgentWorker(
        agent_name=name,
        server=server,
        process=process,
        log_file=log_file,
        env=dict(env or {}),
        ledger_url=ledger_url,
    )
    deadline = time.monotonic() + _REGISTER_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"agent worker exited with {process.returncode}:\n{worker.log_text()[-3000:]}"
            )
        if '"registered worker"' in worker.log_text():
            return worker
        time.sleep(0.2)
    worker.stop()
    raise RuntimeError(
        f"agent worker did not register within {_REGISTER_TIMEOUT_S:.0f} s:\n{worker.log_text()[-3000:]}"
    )


@pytest.fixture(scope="session")
def agent_worker_factory(
    livekit_server: LiveKitServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., AgentWorker]]:
    """``factory(env=None, agent_name=None) -> AgentWorker``; all stopped at session end."""
    started: list[AgentWorker] = []
    log_dir = tmp_path_factory.getbasetemp()

    def factory(env: Mapping[str, str] | None = None, agent_name: str | None = None) -> AgentWorker:
        worker = start_agent_worker(livekit_server, log_dir=log_dir, env=env, agent_name=agent_name)
        started.append(worker)
        return worker

    try:
        yield factory
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture(scope="session")
def agent_worker(agent_worker_factory: Callable[..., AgentWorker]) -> AgentWorker:
    """The default worker: local pipeline, immediate interruptions, no key."""
    return agent_worker_factory()
