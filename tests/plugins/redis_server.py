"""Pytest plugin: a redis-server for the shared-state tests (``RedisStateStore``).

Started once per test process on a free loopback port with the project's own spec
(:func:`omnivoice_rtc.sip.processes.redis_spec`: in memory, no files) by the stack
supervisor, as ``omnivoice-rtc dev`` starts it. Debian's redis-server comes from
scripts/install-debian.sh; when it is missing the tests that need it fail under CI=true
and are skipped elsewhere (:func:`tests.conftest.require_binary`).

Fixtures:

* ``redis_server`` (session): :class:`RedisServer` (``.url`` is ``redis://127.0.0.1:<port>/0``;
  :meth:`RedisServer.new_prefix` gives each test keys of its own).

Logs: ``<pytest basetemp>/redis-<worker>.log``.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnivoice_rtc import StackError
from omnivoice_rtc.sip.processes import redis_spec
from omnivoice_rtc.stack import Supervisor, free_port
from tests.conftest import require_binary

__all__ = ["RedisServer", "redis_server", "start_redis_server"]

_START_ATTEMPTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisServer:
    """A running redis-server on 127.0.0.1."""

    port: int
    log_file: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def new_prefix() -> str:
        """A key prefix no other test uses."""
        return f"test-{secrets.token_hex(4)}:"


class _FileSink:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def start_redis_server(log_file: Path) -> tuple[Supervisor, RedisServer, _FileSink]:
    """Start redis-server on a free port (a few tries when the port is taken meanwhile)."""
    binary = require_binary("redis-server")
    sink = _FileSink(log_file)
    last_error: StackError | None = None
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        supervisor = Supervisor([redis_spec(port=port, binary=binary)], log_sink=sink)
        try:
            supervisor.start()
        except StackError as exc:
            if "in use" not in str(exc):
                sink.close()
                raise
            last_error = exc
            continue
        return supervisor, RedisServer(port=port, log_file=log_file), sink
    sink.close()
    assert last_error is not None
    raise last_error


_SHARED: dict[str, RedisServer] = {}
"""One server per test process, however many conftest files import the fixture."""


@pytest.fixture(scope="session")
def redis_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> RedisServer:
    """redis-server for the whole session (one per xdist worker)."""
    server = _SHARED.get("server")
    if server is not None:
        return server
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    supervisor, server, sink = start_redis_server(
        tmp_path_factory.getbasetemp() / f"redis-{worker}.log"
    )

    def stop() -> None:
        _SHARED.pop("server", None)
        supervisor.stop()
        sink.close()

    request.config.add_cleanup(stop)
    _SHARED["server"] = server
    return server
