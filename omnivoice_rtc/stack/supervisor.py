"""A small process supervisor for the local stack.

:class:`Supervisor` starts :class:`~.specs.ProcessSpec` processes in order, waits
for each to be healthy, streams their output with a ``[name] `` prefix, and stops
them in reverse order (SIGTERM to the process group, SIGKILL after the spec's
grace period).

No orphans, even when the supervisor is killed with SIGKILL:

* each child gets ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` before exec, so the kernel
  kills it when its parent dies. Linux ties that signal to the *thread* that
  forked the child, so all children are forked from one supervisor-owned spawner
  thread that lives until :meth:`Supervisor.stop`, whichever thread calls
  :meth:`Supervisor.start`;
* each child runs in its own session/process group; :meth:`Supervisor.stop`
  sends SIGTERM to the child, then clears what is left of its group (SIGTERM,
  then SIGKILL), so grandchildren go too.

Grandchildren of a supervisor killed with SIGKILL rely on their own parent's death
handling (livekit-agents job processes exit when their worker goes away).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.settings import environment
from omnivoice_rtc.stack.ports import port_in_use
from omnivoice_rtc.stack.specs import HealthCheck, HttpCheck, LogCheck, ProcessSpec, TcpCheck

__all__ = ["LogSink", "Supervisor", "stdout_sink"]

LogSink = Callable[[str], None]
"""Receives each child log line, already prefixed with ``[name] ``."""

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before fork: nothing to load in the child
_POLL_INTERVAL_S = 0.05
_ERROR_TAIL_LINES = 25
_GROUP_GRACE_S = 1.0  # grace for grandchildren after their parent has exited
_stdout_lock = threading.Lock()


def stdout_sink(line: str) -> None:
    """Default log sink: one line to ``sys.stdout``, flushed."""
    with _stdout_lock:
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout closed (e.g. piped to a dead `head`)
            pass


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        if _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


class _Child:
    """A running process, its log reader thread and the last lines it printed."""

    def __init__(self, *, spec: ProcessSpec, popen: subprocess.Popen[bytes], sink: LogSink) -> None:
        self.spec = spec
        self.popen = popen
        self.tail: deque[str] = deque(maxlen=200)
        self.log_matched = threading.Event()
        self.fail_line: str | None = None
        self._sink = sink
        self._health_re = (
            re.compile(spec.health.pattern) if isinstance(spec.health, LogCheck) else None
        )
        self._fail_re = re.compile(spec.fail_pattern) if spec.fail_pattern else None
        self.reader = threading.Thread(
            target=self._read, name=f"stack-log-{spec.name}", daemon=True
        )
        self.reader.start()

    def _read(self) -> None:
        stream: IO[bytes] | None = self.popen.stdout
        if stream is None:
            return
        prefix = f"[{self.spec.name}] "
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.tail.append(line)
                if self.fail_line is None and self._fail_re and self._fail_re.search(line):
                    self.fail_line = line
                if self._health_re is not None and self._health_re.search(line):
                    self.log_matched.set()
                self._sink(prefix + line)

    def last_lines(self, count: int = _ERROR_TAIL_LINES) -> list[str]:
        self.reader.join(timeout=1.0)  # let it drain what a dead process printed last
        return list(self.tail)[-count:]

    def error(self, problem: str) -> StackError:
        lines = self.last_lines()
        text = "\n".join(f"  [{self.spec.name}] {line}" for line in lines) or "  (no output)"
        return StackError(f"{self.spec.name}: {problem}\nlast log lines:\n{text}")

    def group_alive(self) -> bool:
        """True while a non-zombie process is left in the child's process group."""
        return _group_has_live_members(self.popen.pid)

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)


def _group_has_live_members(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a running (non-zombie) member.

    Zombies are ignored: orphans re-parented to a PID 1 that does not reap (some
    containers) would otherwise look alive forever. Without /proc, fall back to
    ``killpg(pgid, 0)``.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):  # exited meanwhile
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=1.0) as response:
            return 200 <= int(response.status) < 400
    except (OSError, http.client.HTTPException):  # URLError/HTTPError are OSErrors
        return False


def _tcp_ok(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


class Supervisor:
    """Starts, watches and stops the processes of a stack, in order.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``log_sink``
    receives every child log line prefixed with ``[name] `` (default: stdout).
    ``base_env`` is what every child starts from (default: this process's environment,
    e.g. ``Settings.env``); each spec's ``env`` is added on top.
    """

    def __init__(
        self,
        specs: Sequence[ProcessSpec],
        *,
        log_sink: LogSink | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        names = [spec.name for spec in specs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"specs: duplicate process names {duplicates}")
        self._specs = tuple(specs)
        self._sink: LogSink = log_sink or stdout_sink
        self._base_env = dict(environment() if base_env is None else base_env)
        self._children: list[_Child] = []
        self._spawner: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def specs(self) -> tuple[ProcessSpec, ...]:
        return self._specs

    def pids(self) -> dict[str, int]:
        """PIDs of the started processes by name (each is also its process-group id)."""
        return {child.spec.name: child.popen.pid for child in self._children}

    def last_lines(self, name: str, count: int = _ERROR_TAIL_LINES) -> list[str]:
        """The last ``count`` log lines of process ``name``."""
        for child in self._children:
            if child.spec.name == name:
                return list(child.tail)[-count:]
        raise KeyError(name)

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start every process in order and wait until each is healthy.

        Raises StackError naming the process (with its last log lines) when a port
        it needs is taken, its binary cannot be started, it exits, logs a line
        matching its ``fail_pattern`` or is not healthy within ``start_timeout_s``.
        Processes already started are stopped before the error propagates.
        """
        with self._lock:
            if self._children:
                raise StackError("supervisor: already started")
            self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stack-spawn")
        try:
            for spec in self._specs:
                child = self._spawn(spec)
                self._wait_healthy(child)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, spec: ProcessSpec) -> _Child:
        taken = [
            use.describe()
            for use in spec.ports
            if port_in_use(use.port, protocol=use.protocol, host=use.host)
        ]
        if taken:
            raise StackError(f"{spec.name}: port already in use: {', '.join(taken)}")
        env = {**self._base_env, **spec.env}
        assert self._spawner is not None
        future = self._spawner.submit(
            subprocess.Popen,
            list(spec.argv),
            env=env,
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_pdeathsig_preexec(os.getpid()),
        )
        try:
            popen: subprocess.Popen[bytes] = future.result()
        except OSError as exc:
            raise StackError(
                f"{spec.name}: cannot start {spec.argv[0]!r}: {exc.strerror or exc}"
            ) from exc
        child = _Child(spec=spec, popen=popen, sink=self._sink)
        self._children.append(child)
        return child

    def _healthy(self, child: _Child, check: HealthCheck | None) -> bool:
        if check is None:
            return True
        if isinstance(check, HttpCheck):
            return _http_ok(check.url)
        if isinstance(check, TcpCheck):
            return _tcp_ok(check.host, check.port)
        return child.log_matched.is_set()

    def _wait_healthy(self, child: _Child) -> None:
        spec = child.spec
        deadline = time.monotonic() + spec.start_timeout_s
        while True:
            if child.fail_line is not None:
                raise child.error(f"failed to start: {child.fail_line.strip()}")
            code = child.popen.poll()
            if code is not None:
                raise child.error(f"exited with code {code} during startup")
            if self._healthy(child, spec.health):
                # A health check can be answered by someone else on a clashing port:
                # only a process still running without a failure line counts.
                time.sleep(_POLL_INTERVAL_S)
                code = child.popen.poll()
                if code is not None:
                    raise child.error(f"exited with code {code} during startup")
                if child.fail_line is not None:
                    raise child.error(f"failed to start: {child.fail_line.strip()}")
                return
            if time.monotonic() > deadline:
                what = spec.health.describe() if spec.health else "running"
                raise child.error(f"not healthy ({what}) within {spec.start_timeout_s:g} s")
            time.sleep(_POLL_INTERVAL_S)

    def exited(self) -> StackError | None:
        """A StackError for the first process that has exited, or None if all run."""
        for child in self._children:
            code = child.popen.poll()
            if code is not None:
                return child.error(f"exited unexpectedly with code {code}")
        return None

    def watch(self, stop: threading.Event, *, poll_s: float = 0.2) -> StackError | None:
        """Block until ``stop`` is set (returns None) or a process exits (returns why)."""
        while not stop.wait(poll_s):
            error = self.exited()
            if error is not None:
                return error
        return None

    def stop(self) -> None:
        """Stop all processes in reverse start order: SIGTERM, then SIGKILL after grace."""
        with self._lock:
            children, self._children = self._children, []
            spawner, self._spawner = self._spawner, None
        for child in reversed(children):
            self._stop_child(child)
        if spawner is not None:
            spawner.shutdown(wait=True)

    @staticmethod
    def _stop_child(child: _Child) -> None:
        """SIGTERM the process; once it is gone (or after the grace period) clear its group.

        The leader gets SIGTERM alone first so a process that manages children
        (livekit-agents jobs) can shut them down itself; whatever is left of its
        process group then gets SIGTERM, and SIGKILL if it lingers.
        """
        popen = child.popen
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=child.spec.stop_timeout_s)
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                popen.wait()
        if child.group_alive():  # grandchildren left behind
            child.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + _GROUP_GRACE_S
            while child.group_alive() and time.monotonic() < deadline:
                time.sleep(_POLL_INTERVAL_S)
            child.signal_group(signal.SIGKILL)
        child.reader.join(timeout=2.0)
