"""Shared test configuration.

``require(...)`` is the one place that decides what happens when a server, binary
or browser a test needs is missing: under CI=true the test fails; on a developer
machine it is skipped with the reason (run `make test` to install everything).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnivoice_rtc.stack.ports import use_port_range

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Fail under CI (never skip there), skip elsewhere, when ``condition`` is false."""
    if condition:
        return
    message = f"{what} is missing; `make test` installs it"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # not under CI: see IN_CI above


def run_python(program: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``program`` (Python source) in a fresh interpreter with ``argv``; its exit
    status and captured text output (60 s at most, a non-zero status is not raised)."""
    return subprocess.run(
        [sys.executable, "-c", program, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def require_binary(name: str) -> str:
    """Return the path of an executable (project bin/ first, then PATH)."""
    local = ROOT / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    require(found is not None, f"binary {name!r}")
    assert found is not None
    return found


# Shared fixtures live in plugins so each owner edits one file:
# livekit_stack: session-wide livekit-server on free ports (fixture `livekit_server`).
# agent_worker: the real agent worker process against that server.
# sip_stack: redis + a redis-backed livekit-server (+ livekit-sip) for SIP tests.
# egress: LiveKit Egress on the SIP stack's redis, for call recording tests.
# redis_server: a redis-server for the shared-state store (RedisStateStore).
# postgres: a real PostgreSQL for the call ledger's tests (``ledger_url``: SQLite and it).
pytest_plugins = [  # livekit_stack first: the others import it
    "tests.plugins.livekit_stack",
    "tests.plugins.agent_worker",
    "tests.plugins.sip_stack",
    "tests.plugins.egress",
    "tests.plugins.redis_server",
    "tests.plugins.postgres",
]


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Entry points under test (cli, web) configure the root logger; undo it after each test
    so one test's handler (and its PII filter or closed stream) never reaches another's."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def pytest_configure(config: pytest.Config) -> None:
    """Parallel runs (``pytest -n 2``, make test): each worker process hands out ports from
    its own range below the kernel's ephemeral range (32768+), so two workers starting
    servers at once never pick the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … (unset: one process)
    if worker.startswith("gw") and worker[2:].isdigit():
        index = int(worker[2:])
        low = 10_000 + 5_000 * index
        if low + 5_000 <= 32_768:
            use_port_range(low, low + 5_000)
