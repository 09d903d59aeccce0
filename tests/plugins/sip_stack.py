"""Pytest plugin: a SIP-capable LiveKit stack (redis + livekit-server + livekit-sip).

SIP APIs on livekit-server need Redis, and livekit-sip reaches livekit-server only
through Redis, so SIP tests get their own livekit-server (the shared
``livekit_server`` fixture runs without Redis). Everything runs on loopback, on free
ports, with a random API key, started by the same supervisor and specs as
``omnivoice-rtc dev`` (omnivoice_rtc.sip.processes).

Fixtures:

* ``sip_stack`` (session): yields :class:`SIPStack` (``.livekit`` is a
  :class:`~tests.plugins.livekit_stack.LiveKitServer` whose ``.webhooks`` relay forwards
  LiveKit's webhooks to the web servers a test registers, ``.sip_port`` the SIP
  UDP/TCP port on 127.0.0.1, ``.rtp_ports`` livekit-sip's RTP range).
* ``sip_api`` (function): an ``api.LiveKitAPI`` for that stack, closed after the test.
* ``sip_agent_worker`` (session): the real agent worker (agents/worker.py, local
  pipeline) registered with the SIP stack's livekit-server.

Logs: ``<pytest basetemp>/sip-stack-<worker>.log`` (all three processes, prefixed).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from livekit import api

from omnivoice_rtc import StackError
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.sip.processes import SIPStackSettings, livekit_sip_spec, redis_spec
from omnivoice_rtc.stack import (
    PROJECT_ROOT,
    Supervisor,
    free_port,
    free_ports,
    livekit_server_spec,
    port_in_use,
)
from tests.conftest import require_binary
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.livekit_stack import LiveKitServer
from tests.plugins.livekit_webhooks import WebhookRelay

__all__ = ["SIPStack", "sip_agent_worker", "sip_api", "sip_stack", "start_sip_stack"]

_START_ATTEMPTS = 3
# livekit-server dispatches a job only to workers whose reported load (machine CPU,
# 0-1) is below agents.target_load (default 0.7). On a busy 2-core CI box the load is
# ~1.0 and every dispatch fails ("no servers available"); 2.0 means "always dispatch".
_AGENTS_CONFIG = "\nagents:\n  target_load: 2.0\n"
_RTP_PORT_COUNT = 40  # 2 per call leg; tests run a handful of calls at once at most


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPStack:
    """A running redis + livekit-server + livekit-sip on 127.0.0.1."""

    livekit: LiveKitServer
    sip_port: int
    rtp_ports: tuple[int, int]
    redis_port: int
    log_file: Path
    sip_host: str = "127.0.0.1"

    @property
    def sip_address(self) -> str:
        """``host:port`` of livekit-sip, for a user agent's INVITE."""
        return f"{self.sip_host}:{self.sip_port}"

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")


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


def _free_udp_range(count: int) -> tuple[int, int]:
    """``count`` consecutive UDP ports that are free now (in 20000-29999)."""
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(20000, 30000 - count)
        if not any(port_in_use(p, protocol="udp") for p in range(start, start + count)):
            return start, start + count - 1
    raise StackError(f"no {count} consecutive free UDP ports found in 20000-29999")


def start_sip_stack(
    log_file: Path, *, webhooks: WebhookRelay | None = None
) -> tuple[Supervisor, SIPStack, _FileSink]:
    """Start redis, livekit-server (with redis) and livekit-sip on free ports; the
    server's webhooks go to ``webhooks`` (``stack.livekit.webhooks``)."""
    livekit_binary = require_binary("livekit-server")
    sip_binary = require_binary("livekit-sip")
    redis_binary = require_binary("redis-server")
    api_key = "sip-" + secrets.token_hex(4)
    api_secret = secrets.token_urlsafe(32)
    sink = _FileSink(log_file)
    base = PROJECT_ROOT / "livekit.yaml"
    config = log_file.with_suffix(".livekit.yaml")
    base_text = base.read_text(encoding="utf-8") if base.is_file() else ""
    if "\nagents:" not in base_text:
        base_text += _AGENTS_CONFIG
    config.write_text(base_text, encoding="utf-8")
    last_error: StackError | None = None
    for _ in range(_START_ATTEMPTS):
        http_port, rtc_tcp_port, sip_port, redis_port = free_ports(4)
        udp_port = free_port(protocol="udp")
        rtp_start, rtp_end = _free_udp_range(_RTP_PORT_COUNT)
        livekit = LiveKitSettings(
            url=f"ws://127.0.0.1:{http_port}", api_key=api_key, api_secret=api_secret
        )
        sip = SIPStackSettings(
            sip_port=sip_port,
            rtp_port_start=rtp_start,
            rtp_port_end=rtp_end,
            redis_port=redis_port,
            log_level="debug",
        )
        specs = [
            redis_spec(port=redis_port, binary=redis_binary),
            livekit_server_spec(
                port=http_port,
                tcp_port=rtc_tcp_port,
                udp_port=udp_port,
                keys={api_key: api_secret},
                redis_host=sip.redis_address,
                binary=livekit_binary,
                config=config,
                webhook_urls=(webhooks.url,) if webhooks is not None else (),
            ),
            livekit_sip_spec(livekit=livekit, sip=sip, binary=sip_binary),
        ]
        supervisor = Supervisor(specs, log_sink=sink)
        try:
            supervisor.start()
        except StackError as exc:
            if "in use" not in str(exc):
                sink.close()
                raise
            last_error = exc
            continue
        server = LiveKitServer(
            url=livekit.url,
            http_url=livekit.http_url,
            api_key=api_key,
            api_secret=api_secret,
            log_file=log_file,
            webhooks=webhooks,
        )
        stack = SIPStack(
            livekit=server,
            sip_port=sip_port,
            rtp_ports=(rtp_start, rtp_end),
            redis_port=redis_port,
            log_file=log_file,
        )
        return supervisor, stack, sink
    sink.close()
    assert last_error is not None
    raise last_error


_SHARED: dict[str, object] = {}
"""One stack (and one worker) per test process, even when several conftest files import
these fixtures (each import is a separate fixture definition with its own cache)."""


@pytest.fixture(scope="session")
def sip_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SIPStack:
    """redis + livekit-server + livekit-sip for the whole session (one per xdist worker)."""
    stack = _SHARED.get("stack")
    if isinstance(stack, SIPStack):
        return stack
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log_file = tmp_path_factory.getbasetemp() / f"sip-stack-{worker}.log"
    relay = WebhookRelay()
    try:
        supervisor, stack, sink = start_sip_stack(log_file, webhooks=relay)
    except BaseException:
        relay.close()
        raise

    def stop() -> None:
        _SHARED.pop("stack", None)
        supervisor.stop()
        sink.close()
        relay.close()

    request.config.add_cleanup(stop)
    _SHARED["stack"] = stack
    return stack


@pytest.fixture
async def sip_api(sip_stack: SIPStack) -> AsyncIterator[api.LiveKitAPI]:
    """A server API client for ``sip_stack``; closed after the test."""
    client = api.LiveKitAPI(
        url=sip_stack.livekit.http_url,
        api_key=sip_stack.livekit.api_key,
        api_secret=sip_stack.livekit.api_secret,
    )
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def sip_agent_worker(
    request: pytest.FixtureRequest, sip_stack: SIPStack, tmp_path_factory: pytest.TempPathFactory
) -> AgentWorker:
    """The real agent worker on the SIP stack's livekit-server (dispatched by rules)."""
    worker = _SHARED.get("worker")
    if isinstance(worker, AgentWorker):
        return worker
    started = start_agent_worker(sip_stack.livekit, log_dir=tmp_path_factory.getbasetemp())

    def stop() -> None:
        _SHARED.pop("worker", None)
        started.stop()

    request.config.add_cleanup(stop)  # runs before the stack's cleanup (LIFO)
    _SHARED["worker"] = started
    return started
