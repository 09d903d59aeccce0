"""The fault suite's own stack: redis, livekit-server (with redis) and livekit-sip, each a
separately restartable process on ports fixed for the session, plus the real agent worker.

The session-wide ``livekit_server`` of the other tests is never paused or killed: these
tests stop, freeze and restart processes, so they own theirs. Logs go to
``<pytest basetemp>/faults-<process>.log``.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

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
from omnivoice_rtc.stack.specs import ProcessSpec
from tests.conftest import require_binary
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.livekit_stack import LiveKitServer

__all__ = ["FaultStack", "Proc", "WorkerHandle", "descendants", "job_pid", "start_fault_stack"]

_AGENTS_CONFIG = "\nagents:\n  target_load: 2.0\n"  # dispatch even on a busy 2-core box


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


@dataclass
class Proc:
    """One supervised process that can be killed, frozen and started again (same ports)."""

    spec: ProcessSpec
    log_file: Path
    _sink: _FileSink | None = None
    _supervisor: Supervisor | None = None

    def start(self) -> None:
        if self._sink is None:
            self._sink = _FileSink(self.log_file)
        self._supervisor = Supervisor([self.spec], log_sink=self._sink)
        self._supervisor.start()

    @property
    def pid(self) -> int:
        assert self._supervisor is not None
        return self._supervisor.pids()[self.spec.name]

    def alive(self) -> bool:
        return self._supervisor is not None and self._supervisor.exited() is None

    def stop(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.stop()

    def kill(self) -> None:
        """``kill -9``, then reap it."""
        os.kill(self.pid, signal.SIGKILL)
        self.stop()

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        deadline = time.monotonic() + 10
        while any(port_in_use(u.port, protocol=u.protocol, host=u.host) for u in self.spec.ports):
            assert time.monotonic() < deadline, f"{self.spec.name}: ports still taken"
            time.sleep(0.1)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._sink is not None:
            self._sink.close()


@dataclass
class FaultStack:
    livekit: LiveKitServer
    livekit_port: int
    sip_port: int
    redis: Proc
    server: Proc
    sip: Proc
    log_dir: Path

    @property
    def settings(self) -> LiveKitSettings:
        return LiveKitSettings(
            url=self.livekit.url, api_key=self.livekit.api_key, api_secret=self.livekit.api_secret
        )

    @property
    def sip_address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def close(self) -> None:
        for proc in (self.sip, self.server, self.redis):
            proc.close()


def _udp_range(count: int) -> tuple[int, int]:
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(30000, 40000 - count)
        if not any(port_in_use(p, protocol="udp") for p in range(start, start + count)):
            return start, start + count - 1
    raise RuntimeError(f"no {count} consecutive free UDP ports in 30000-39999")


def start_fault_stack(log_dir: Path) -> FaultStack:
    livekit_binary = require_binary("livekit-server")
    sip_binary = require_binary("livekit-sip")
    redis_binary = require_binary("redis-server")
    api_key, api_secret = "faults-" + secrets.token_hex(4), secrets.token_urlsafe(32)
    http_port, rtc_tcp_port, sip_port, redis_port = free_ports(4)
    udp_port = free_port(protocol="udp")
    rtp_start, rtp_end = _udp_range(40)
    base = PROJECT_ROOT / "livekit.yaml"
    text = base.read_text(encoding="utf-8") if base.is_file() else ""
    config = log_dir / "faults-livekit.yaml"
    config.write_text(text if "\nagents:" in text else text + _AGENTS_CONFIG, encoding="utf-8")
    livekit = LiveKitSettings(
        url=f"ws://127.0.0.1:{http_port}", api_key=api_key, api_secret=api_secret
    )
    sip = SIPStackSettings(
        sip_port=sip_port, rtp_port_start=rtp_start, rtp_port_end=rtp_end, redis_port=redis_port
    )
    redis = Proc(redis_spec(port=redis_port, binary=redis_binary), log_dir / "faults-redis.log")
    server = Proc(
        livekit_server_spec(
            port=http_port,
            tcp_port=rtc_tcp_port,
            udp_port=udp_port,
            keys={api_key: api_secret},
            redis_host=sip.redis_address,
            binary=livekit_binary,
            config=config,
        ),
        log_dir / "faults-livekit-server.log",
    )
    sip_proc = Proc(
        livekit_sip_spec(livekit=livekit, sip=sip, binary=sip_binary),
        log_dir / "faults-livekit-sip.log",
    )
    started: list[Proc] = []
    try:
        for proc in (redis, server, sip_proc):
            proc.start()
            started.append(proc)
    except BaseException:
        for proc in reversed(started):
            proc.close()
        raise
    return FaultStack(
        livekit=LiveKitServer(
            url=livekit.url, http_url=livekit.http_url, api_key=api_key, api_secret=api_secret
        ),
        livekit_port=http_port,
        sip_port=sip_port,
        redis=redis,
        server=server,
        sip=sip_proc,
        log_dir=log_dir,
    )


@dataclass
class WorkerHandle:
    """The fault stack's agent worker; :meth:`restart` starts a new one under the same name."""

    stack: FaultStack
    log_dir: Path
    agent_name: str = field(default_factory=lambda: "faults-" + secrets.token_hex(3))
    current: AgentWorker | None = None

    def start(self) -> AgentWorker:
        self.current = start_agent_worker(
            self.stack.livekit,
            log_dir=self.log_dir,
            agent_name=self.agent_name,
            env={"OMNIVOICE_JOIN_TIMEOUT_S": "20"},
        )
        return self.current

    def ensure(self) -> AgentWorker:
        """The running worker (a new one if the last was killed)."""
        if self.current is None or self.current.process.poll() is not None:
            return self.start()
        return self.current

    def kill(self) -> None:
        """``kill -9`` of the worker and everything it started (its process group: the job
        processes too), as when its container or machine dies."""
        assert self.current is not None
        os.killpg(self.current.process.pid, signal.SIGKILL)
        self.current.process.wait(timeout=10)

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()


# ---------------------------------------------------------------------- processes


def _ppids() -> dict[int, int]:
    table: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = int(fields[1])
    return table


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children, grandchildren, ...)."""
    ppids = _ppids()
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, pp in ppids.items() if pp == parent]
        found += children
        todo += children
    return found


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections to 127.0.0.1:``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            remote, state, inode = cols[2], cols[3], cols[9]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def job_pid(worker_pid: int, server_port: int) -> int | None:
    """The agent job process below ``worker_pid`` that is connected to livekit-server on
    ``server_port`` (idle pre-started job processes are not connected)."""
    inodes = _established_inodes(server_port)
    for pid in descendants(worker_pid):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            return pid
    return None


def open_fds() -> int:
    """File descriptors open in this (the test) process."""
    return len(os.listdir("/proc/self/fd"))


def rss_kib(pid: int | None = None) -> int:
    """Resident set size (KiB) of ``pid`` (default: this process)."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])
