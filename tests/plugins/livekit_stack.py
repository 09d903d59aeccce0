"""Pytest plugin: a real livekit-server for the test session, on free ports.

Fixtures (available to integration and e2e tests alike):

* ``livekit_server`` (session): starts ``bin/livekit-server`` with the same
  supervisor code as ``omnivoice-rtc dev``, on free HTTP, ICE-TCP and UDP ports and
  with a random API key/secret; yields a :class:`LiveKitServer`. Under
  pytest-xdist each worker starts its own server (its own free ports).
* ``livekit_api`` (function): an ``api.LiveKitAPI`` for that server, closed after
  the test.

The server's log goes to ``<pytest basetemp>/livekit-server-<worker>.log``; a
start failure raises StackError with the last log lines. Its webhooks go to
``livekit_server.webhooks`` (:class:`~tests.plugins.livekit_webhooks.WebhookRelay`),
which forwards them to the web servers a test registers.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc import StackError
from omnivoice_rtc.stack import Supervisor, free_port, free_ports, livekit_server_spec
from tests.conftest import require_binary
from tests.plugins.livekit_webhooks import WebhookRelay

__all__ = ["LiveKitServer", "livekit_api", "livekit_server", "start_livekit_server"]

_START_ATTEMPTS = 3  # a free port can be grabbed by another process before the server binds it


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveKitServer:
    """A running livekit-server: ``url`` (ws://127.0.0.1:PORT) for rtc clients,
    ``http_url`` for the server API, and the API key/secret it accepts."""

    url: str
    http_url: str
    api_key: str
    api_secret: str = field(repr=False)
    log_file: Path | None = None
    webhooks: WebhookRelay | None = None
    """Where the server's webhooks go (None when started without)."""

    def env(self) -> dict[str, str]:
        """``LIVEKIT_URL``/``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET`` for a child process."""
        return {
            "LIVEKIT_URL": self.url,
            "LIVEKIT_API_KEY": self.api_key,
            "LIVEKIT_API_SECRET": self.api_secret,
        }


class _FileSink:
    """Log sink appending prefixed lines to a file (thread-safe, line-buffered)."""

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


def start_livekit_server(
    log_file: Path, *, webhooks: WebhookRelay | None = None
) -> tuple[Supervisor, LiveKitServer, _FileSink]:
    """Start livekit-server on free ports (retrying on a port clash); its webhooks go to
    ``webhooks``.

    Returns the supervisor (call ``stop()``), the server description and the log
    sink (call ``close()`` after stopping).
    """
    binary = require_binary("livekit-server")
    api_key = "test-" + secrets.token_hex(4)
    api_secret = secrets.token_urlsafe(32)
    sink = _FileSink(log_file)
    last_error: StackError | None = None
    for _ in range(_START_ATTEMPTS):
        http_port, rtc_tcp_port = free_ports(2)
        udp_port = free_port(protocol="udp")
        spec = livekit_server_spec(
            port=http_port,
            tcp_port=rtc_tcp_port,
            udp_port=udp_port,
            keys={api_key: api_secret},
            binary=binary,
            webhook_urls=(webhooks.url,) if webhooks is not None else (),
        )
        supervisor = Supervisor([spec], log_sink=sink)
        try:
            supervisor.start()
        except StackError as exc:
            if "in use" not in str(exc):
                sink.close()
                raise
            last_error = exc
            continue
        server = LiveKitServer(
            url=f"ws://127.0.0.1:{http_port}",
            http_url=f"http://127.0.0.1:{http_port}",
            api_key=api_key,
            api_secret=api_secret,
            log_file=log_file,
            webhooks=webhooks,
        )
        return supervisor, server, sink
    sink.close()
    assert last_error is not None
    raise last_error


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A real livekit-server for the whole session (one per xdist worker)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log_file = tmp_path_factory.getbasetemp() / f"livekit-server-{worker}.log"
    relay = WebhookRelay()
    try:
        supervisor, server, sink = start_livekit_server(log_file, webhooks=relay)
    except BaseException:
        relay.close()
        raise
    try:
        yield server
    finally:
        supervisor.stop()
        sink.close()
        relay.close()


@pytest.fixture
async def livekit_api(livekit_server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    """A server API client for ``livekit_server``; closed after the test."""
    client = api.LiveKitAPI(
        url=livekit_server.http_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
    )
    try:
        yield client
    finally:
        await client.aclose()
