"""Real web processes for the scaling tests: ``python -m omnivoice_rtc.web`` as production
runs it (carrier routes from the environment, SIGTERM drains), one or several sharing a
real redis-server, every carrier's REST API a loopback fake.

* :func:`carrier_env`: the variables that serve every carrier with the simulator's
  secrets and send their REST calls to a :class:`~tests.fakes.carrier_rest.CarrierRestFake`;
* :class:`WebProcess`: one web process (start, ``/healthz``, SIGTERM, kill -9, exit status,
  log);
* :func:`local_cluster`: the multinode cluster (Redis, two livekit-server nodes, a worker
  per node, two web replicas, HAProxy from deploy/haproxy.cfg), as
  ``omnivoice-rtc dev --livekit-nodes 2 --web-replicas 2`` runs it, on free ports;
* :func:`open_carrier_call`: a simulated carrier call through the web process (or the
  balancer) at ``base_url``: signed for :data:`PUBLIC_URL` (what carriers would reach), its
  stream opened on ``base_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from omnivoice_rtc.simulate.carrier_simulator import CarrierSimulator, StreamTarget
from omnivoice_rtc.simulate.carrier_webhooks import CarrierSecrets
from omnivoice_rtc.stack import PROJECT_ROOT, Supervisor, free_port, free_ports, livekit_server_spec
from omnivoice_rtc.stack.haproxy import haproxy_spec
from tests.conftest import require_binary
from tests.fakes.carrier_rest import CarrierRestFake
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.livekit_stack import LiveKitServer
from tests.plugins.redis_server import start_redis_server

__all__ = [
    "ACCOUNT_IDS",
    "PUBLIC_URL",
    "LocalCluster",
    "WebProcess",
    "carrier_env",
    "carrier_simulator",
    "local_cluster",
    "open_carrier_call",
    "open_stream_at",
]

CARRIER_ROUTES = "omnivoice_rtc.shim.install:install_from_env"
PUBLIC_URL = "https://voice.example.test"
"""``OMNIVOICE_PUBLIC_URL`` of the web processes: markup names ``wss://`` stream URLs (the
carriers require them); the simulator signs for it and connects to the local address."""
_START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class _Accounts:
    twilio: str = "AC" + "5" * 32
    plivo: str = "MA" + "5" * 18
    exotel: str = "exotel-acct"


ACCOUNT_IDS = _Accounts()


def carrier_env(secrets: CarrierSecrets, rest_base_url: str) -> dict[str, str]:
    """Every carrier served (webhook keys: the simulator's secrets) with REST credentials
    pointing at ``rest_base_url`` (so REST hang-ups are recorded)."""
    return {
        "OMNIVOICE_PUBLIC_URL": PUBLIC_URL,
        "OMNIVOICE_TOKEN_KEY": "key-" + token_hex(8),  # required once exposed
        "TWILIO_AUTH_TOKEN": secrets.twilio_auth_token,
        "TWILIO_ACCOUNT_SID": ACCOUNT_IDS.twilio,
        "TWILIO_FROM_NUMBER": "+15550000001",
        "TWILIO_API_BASE_URL": rest_base_url,
        "TELNYX_PUBLIC_KEY": secrets.telnyx_public_key,
        "TELNYX_API_KEY": "KEY-telnyx",
        "TELNYX_API_BASE_URL": rest_base_url,
        "VONAGE_SIGNATURE_SECRET": secrets.vonage_signature_secret,
        "VONAGE_API_KEY": secrets.vonage_api_key,
        "VONAGE_API_BASE_URL": rest_base_url,
        "PLIVO_AUTH_TOKEN": secrets.plivo_auth_token,
        "PLIVO_AUTH_ID": ACCOUNT_IDS.plivo,
        "PLIVO_API_BASE_URL": rest_base_url,
        "EXOTEL_STREAM_USER": secrets.exotel_user,
        "EXOTEL_STREAM_PASSWORD": secrets.exotel_password,
    }


class WebProcess:
    """``python -m omnivoice_rtc.web`` on 127.0.0.1:``port`` (a free one by default) with
    ``env`` on top of this process's environment; its output goes to ``log_file``."""

    def __init__(self, *, env: Mapping[str, str], log_file: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self._env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1",
            "OMNIVOICE_WEB_ROUTES": CARRIER_ROUTES,
            "OMNIVOICE_SHIM_MEDIA": "rtc",
            "OMNIVOICE_LOG_FORMAT": "json",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process (:meth:`start` also waits until it is healthy)."""
        argv = [sys.executable, "-m", "omnivoice_rtc.web", "--host", "127.0.0.1"]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [*argv, "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.process

    async def start(self) -> WebProcess:
        """Start the process and wait until ``/healthz`` answers 200 (60 s max)."""
        self.process = self.spawn()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"web process exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
                )
            try:
                status, _ = await self.healthz()
            except (aiohttp.ClientError, OSError):
                status = 0
            if status == 200:
                return self
            await asyncio.sleep(0.2)  # reason: polling a child process's start
        self.kill()
        raise RuntimeError(f"web process not healthy within 60 s:\n{self.log_text()[-3000:]}")

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        """``GET /healthz``: (status, body)."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{self.url}/healthz") as response,
        ):
            return response.status, json.loads(await response.text())

    def terminate(self) -> None:
        """SIGTERM: the rolling restart's drain begins."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """kill -9 (its whole process group: the web process and what it started)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    async def wait(self, timeout_s: float) -> int:
        """The exit status, waiting up to ``timeout_s`` s (AssertionError after)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            assert time.monotonic() < deadline, f"web process still running after {timeout_s} s"
            await asyncio.sleep(0.1)  # reason: polling a child process's exit
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def log_records(self, message: str) -> list[dict[str, Any]]:
        """The JSON log records whose message is ``message`` (non-JSON lines skipped)."""
        found: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("message") == message:
                found.append(record)
        return found


def carrier_simulator(
    carrier: str, base_url: str, secrets: CarrierSecrets, *, call_id: str | None = None
) -> CarrierSimulator:
    """A simulated carrier call against ``base_url`` signed for :data:`PUBLIC_URL` (enter it
    with ``__aenter__``)."""
    return CarrierSimulator(
        carrier=carrier,
        base_url=base_url,
        public_base_url=PUBLIC_URL,
        secrets_=secrets,
        call_id=call_id,
    )


async def open_stream_at(sim: CarrierSimulator, markup: str, base_url: str) -> None:
    """Open the stream ``markup`` names on ``base_url`` (not its public host) and start the
    caller's line (silence)."""
    target = sim.stream_target(markup)
    local, stream = urlsplit(base_url), urlsplit(target.url)
    url = urlunsplit(("ws", local.netloc, stream.path, stream.query, ""))
    await sim.open_stream(StreamTarget(url, target.parameters, target.sample_rate))
    sim.start_mic()


async def open_carrier_call(
    carrier: str, base_url: str, secrets: CarrierSecrets, *, stream_base_url: str = ""
) -> tuple[CarrierSimulator, int, str]:
    """Answer webhook to ``base_url``; when it is answered (200), open the stream the markup
    names on ``stream_base_url`` (default ``base_url``). Returns (simulator, webhook status,
    body); close the simulator with ``__aexit__``."""
    sim = carrier_simulator(carrier, base_url, secrets)
    await sim.__aenter__()
    status, body = await sim.post_answer_webhook()
    if status == 200:
        await open_stream_at(sim, body, stream_base_url or base_url)
    return sim, status, body


# ---------------------------------------------------------------------------- the cluster


@dataclass
class LocalCluster:
    """Redis, two livekit-server nodes on it (each its own supervisor: one can be killed),
    an agent worker per node (one agent name), two web replicas sharing the Redis (reaching
    LiveKit through node 1), and HAProxy (deploy/haproxy.cfg) in front of them at
    :attr:`url`; carriers' REST APIs are :attr:`rest`."""

    url: str
    nodes: list[LiveKitServer]
    node_supervisors: list[Supervisor]
    workers: list[AgentWorker]
    webs: list[WebProcess]
    rest: CarrierRestFake
    secrets: CarrierSecrets
    agent_name: str
    log_dir: Path

    def node_log(self, node: int) -> str:
        log = self.nodes[node].log_file
        return log.read_text(encoding="utf-8", errors="replace") if log else ""

    def room_nodes(self) -> dict[str, int]:
        """Room name -> the node (0-based) LiveKit's room allocator placed it on, from the
        nodes' logs (``selected node for room``)."""
        ids: dict[str, int] = {}
        placed: dict[str, str] = {}
        for node in range(len(self.nodes)):
            text = self.node_log(node)
            own = re.search(r'"nodeID": "(ND_[A-Za-z0-9]+)"', text)
            if own is not None:
                ids[own.group(1)] = node
            for room, node_id in re.findall(
                r'selected node for room\s+\{"room": "([^"]+)", "selectedNodeID": "([^"]+)"', text
            ):
                placed[room] = node_id
        return {room: ids[node_id] for room, node_id in placed.items() if node_id in ids}

    def kill_node(self, node: int) -> None:
        """``kill -9`` of livekit-server node ``node`` (0-based)."""
        for pid in self.node_supervisors[node].pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def local_cluster(
    log_dir: Path, *, worker_env: Mapping[str, str]
) -> AsyncIterator[LocalCluster]:
    """Start the cluster (see :class:`LocalCluster`); everything is stopped on exit."""
    haproxy = require_binary("haproxy")
    livekit_binary = require_binary("livekit-server")
    redis_supervisor, redis, redis_sink = start_redis_server(log_dir / "cluster-redis.log")
    api_key, api_secret = "cluster-" + token_hex(4), token_hex(24)
    balancer_port = free_port()
    stoppers: list[Callable[[], None]] = [redis_supervisor.stop, redis_sink.close]
    rest = CarrierRestFake()
    await rest.start()
    try:
        nodes: list[LiveKitServer] = []
        supervisors: list[Supervisor] = []
        for number in (1, 2):
            http_port, tcp_port = free_ports(2)
            log_file = log_dir / f"cluster-livekit-{number}.log"
            sink = _LineFile(log_file)
            spec = livekit_server_spec(
                port=http_port,
                tcp_port=tcp_port,
                udp_port=free_port(protocol="udp"),
                keys={api_key: api_secret},
                redis_host=f"127.0.0.1:{redis.port}",
                binary=livekit_binary,
                webhook_urls=(f"http://127.0.0.1:{balancer_port}/livekit/webhook",),
            )
            supervisor = Supervisor(
                [dataclasses.replace(spec, name=f"livekit-{number}")], log_sink=sink
            )
            supervisor.start()
            stoppers += [supervisor.stop, sink.close]
            supervisors.append(supervisor)
            url = f"ws://127.0.0.1:{http_port}"
            nodes.append(
                LiveKitServer(
                    url=url,
                    http_url=f"http://127.0.0.1:{http_port}",
                    api_key=api_key,
                    api_secret=api_secret,
                    log_file=log_file,
                )
            )
        agent_name = "cluster-" + token_hex(3)
        workers = []
        for node in nodes:
            worker = start_agent_worker(
                node, log_dir=log_dir, agent_name=agent_name, env=worker_env
            )
            stoppers.append(worker.stop)
            workers.append(worker)
        secrets = CarrierSecrets()
        webs = []
        for replica in (1, 2):
            web = WebProcess(
                env={
                    # LiveKit's API and signalling through node 1 (production: LiveKit's own
                    # balancer); the room allocator places rooms on either node
                    **nodes[0].env(),
                    **carrier_env(secrets, rest.base_url),
                    "OMNIVOICE_AGENT_NAME": agent_name,
                    "OMNIVOICE_DATABASE_URL": workers[0].ledger_url,
                    "OMNIVOICE_REDIS_URL": f"redis://127.0.0.1:{redis.port}/1",
                    "OMNIVOICE_REPLICA_ID": f"web-{replica}",
                    "OMNIVOICE_MAX_CALLS_PER_ADDRESS": "1000",
                    "OMNIVOICE_MAX_MEDIA_SOCKETS_PER_ADDRESS": "1000",
                    "OMNIVOICE_DRAIN_S": "120",
                    # 2 cores and a dozen agents: slow pings must not be judged dead, but a
                    # dead node's calls are found by their silent agents
                    "OMNIVOICE_CALL_AGENT_PING_S": "2",
                    "OMNIVOICE_CALL_AGENT_PING_TIMEOUT_S": "10",
                },
                log_file=log_dir / f"cluster-web-{replica}.log",
            )
            stoppers.append(web.kill)
            webs.append(web)
        await asyncio.gather(*(web.start() for web in webs))
        spec = haproxy_spec(
            port=balancer_port,
            replicas=[("127.0.0.1", web.port) for web in webs],
            binary=haproxy,
            config_dir=log_dir,
        )
        balancer_sink = _LineFile(log_dir / "cluster-haproxy.log")
        balancer = Supervisor([spec], log_sink=balancer_sink)
        balancer.start()
        stoppers += [balancer.stop, balancer_sink.close]
        yield LocalCluster(
            url=f"http://127.0.0.1:{balancer_port}",
            nodes=nodes,
            node_supervisors=supervisors,
            workers=workers,
            webs=webs,
            rest=rest,
            secrets=secrets,
            agent_name=agent_name,
            log_dir=log_dir,
        )
    finally:
        for stop in reversed(stoppers):
            with contextlib.suppress(Exception):  # reason: best-effort teardown of every part
                stop()
        await rest.aclose()


class _LineFile:
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
