"""Supervisor behaviour with tiny ``python -c`` children (no servers involved)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnivoice_rtc import StackError
from omnivoice_rtc.stack import (
    LogCheck,
    PortUse,
    ProcessSpec,
    Supervisor,
    TcpCheck,
    free_port,
    free_ports,
    port_in_use,
)

pytestmark = pytest.mark.unit

GUARD_S = 15.0  # upper bound for a process to disappear; never asserted as a duration
ROOT = Path(__file__).resolve().parents[3]


def py(name: str, code: str, **kwargs: object) -> ProcessSpec:
    """A spec running ``code`` in a fresh Python interpreter (unbuffered)."""
    return ProcessSpec(
        name=name,
        argv=(sys.executable, "-u", "-c", textwrap.dedent(code)),
        **kwargs,  # type: ignore[arg-type]  # reason: test helper forwards spec fields
    )


SLEEPER = """
    import time
    print("ready", flush=True)
    time.sleep(600)
"""

# Starts a grandchild in the same process group and reports its pid.
PARENT_OF_SLEEPER = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(f"grandchild {child.pid}", flush=True)
    print("ready", flush=True)
    time.sleep(600)
"""


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_gone(pids: list[int]) -> list[int]:
    """Wait (bounded) for ``pids`` to disappear; return those still alive."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


class Lines:
    """A thread-safe log sink that keeps every line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)


@pytest.fixture
def sink() -> Lines:
    return Lines()


@pytest.fixture
def cleanup() -> Iterator[list[Supervisor]]:
    supervisors: list[Supervisor] = []
    yield supervisors
    for supervisor in supervisors:
        supervisor.stop()


def grandchild_pid(lines: list[str], name: str) -> int:
    for line in lines:
        if line.startswith(f"[{name}] grandchild "):
            return int(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no grandchild line from {name} in {lines}")


def test_start_in_order_prefix_logs_and_stop_leaves_no_process(
    sink: Lines, cleanup: list[Supervisor]
) -> None:
    supervisor = Supervisor(
        [
            py("first", SLEEPER, health=LogCheck(pattern="^ready$")),
            py("second", PARENT_OF_SLEEPER, health=LogCheck(pattern="^ready$")),
            py("third", "import time; print('no health check', flush=True); time.sleep(600)"),
        ],
        log_sink=sink,
    )
    cleanup.append(supervisor)
    supervisor.start()
    pids = supervisor.pids()
    assert list(pids) == ["first", "second", "third"]
    lines = sink.snapshot()
    assert lines.index("[first] ready") < min(
        i for i, line in enumerate(lines) if line.startswith("[second] ")
    )
    grandchild = grandchild_pid(lines, "second")
    everything = [*pids.values(), grandchild]
    assert all(alive(pid) for pid in everything)
    # Each child leads its own process group; the grandchild is in its parent's.
    assert all(os.getpgid(pid) == pid for pid in pids.values())
    assert os.getpgid(grandchild) == pids["second"]

    supervisor.stop()
    assert wait_gone(everything) == []
    assert supervisor.pids() == {}


def test_children_outlive_the_thread_that_started_them(
    sink: Lines, cleanup: list[Supervisor]
) -> None:
    """PDEATHSIG follows the forking *thread*; the spawner thread must outlive start()."""
    supervisor = Supervisor(
        [py("sleeper", SLEEPER, health=LogCheck(pattern="ready"))], log_sink=sink
    )
    cleanup.append(supervisor)
    starter = threading.Thread(target=supervisor.start)
    starter.start()
    starter.join()
    pid = supervisor.pids()["sleeper"]
    time.sleep(0.3)  # give a wrongly delivered parent-death signal time to land
    assert alive(pid)
    assert supervisor.exited() is None
    supervisor.stop()
    assert wait_gone([pid]) == []


def test_sigterm_ignoring_child_is_killed_after_the_grace_period(sink: Lines) -> None:
    stubborn = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)
    """
    supervisor = Supervisor(
        [py("stubborn", stubborn, health=LogCheck(pattern="ready"), stop_timeout_s=0.5)],
        log_sink=sink,
    )
    supervisor.start()
    pid = supervisor.pids()["stubborn"]
    supervisor.stop()
    assert wait_gone([pid]) == []


SUPERVISOR_SCRIPT = """
    import json, sys, time
    from omnivoice_rtc.stack import LogCheck, ProcessSpec, Supervisor
    code = "import time; print('ready', flush=True); time.sleep(600)"
    specs = [
        ProcessSpec(name=f"c{i}", argv=(sys.executable, "-u", "-c", code),
                    health=LogCheck(pattern="ready"))
        for i in range(2)
    ]
    supervisor = Supervisor(specs, log_sink=lambda line: None)
    supervisor.start()
    print(json.dumps(supervisor.pids()), flush=True)
    time.sleep(600)
"""


def test_children_die_when_the_supervisor_is_killed_with_sigkill() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", textwrap.dedent(SUPERVISOR_SCRIPT)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        pids = list(json.loads(line).values())
        assert len(pids) == 2
        assert all(alive(pid) for pid in pids)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert wait_gone(pids) == []
    finally:
        proc.kill()
        proc.wait()


def test_a_process_that_exits_is_named_with_its_last_log_lines(sink: Lines) -> None:
    crasher = """
        import sys
        for i in range(40):
            print(f"line {i}", flush=True)
        print("fatal: cannot open config", flush=True)
        sys.exit(3)
    """
    supervisor = Supervisor(
        [
            py("ok", SLEEPER, health=LogCheck(pattern="ready")),
            py("crasher", crasher, health=LogCheck(pattern="never")),
        ],
        log_sink=sink,
    )
    with pytest.raises(StackError) as caught:
        supervisor.start()
    message = str(caught.value)
    assert message.startswith("crasher: exited with code 3 during startup\n")
    assert "[crasher] fatal: cannot open config" in message
    assert "[crasher] line 39" in message
    assert "[crasher] line 0\n" not in message  # only the last lines
    assert supervisor.pids() == {}


def test_earlier_processes_are_stopped_when_a_later_one_fails(sink: Lines) -> None:
    reporter = """
        import os, time
        print(f"pid {os.getpid()}", flush=True)
        print("ready", flush=True)
        time.sleep(600)
    """
    supervisor = Supervisor(
        [
            py("early", reporter, health=LogCheck(pattern="ready")),
            py("late", "import sys; sys.exit(1)", health=LogCheck(pattern="ready")),
        ],
        log_sink=sink,
    )
    with pytest.raises(StackError, match=r"^late: exited with code 1 during startup"):
        supervisor.start()
    early_pid = next(int(line.split()[-1]) for line in sink.snapshot() if "[early] pid" in line)
    assert wait_gone([early_pid]) == []


def test_a_missing_binary_is_named() -> None:
    spec = ProcessSpec(name="ghost", argv=("/nonexistent/bin/ghost-server", "--port", "1"))
    with pytest.raises(StackError, match=r"^ghost: cannot start '/nonexistent/bin/ghost-server'"):
        Supervisor([spec], log_sink=lambda line: None).start()


def test_a_process_that_never_becomes_healthy_times_out_and_is_stopped(sink: Lines) -> None:
    reporter = """
        import os, time
        print(f"pid {os.getpid()}", flush=True)
        time.sleep(600)
    """
    spec = py("slow", reporter, health=LogCheck(pattern="ready"), start_timeout_s=0.5)
    with pytest.raises(
        StackError, match=r"^slow: not healthy \(log line matching 'ready'\) within 0.5 s"
    ):
        Supervisor([spec], log_sink=sink).start()
    pid = next(int(line.split()[-1]) for line in sink.snapshot() if "[slow] pid" in line)
    assert wait_gone([pid]) == []


def test_a_taken_port_is_detected_before_start() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        assert port_in_use(port)
        spec = py(
            "server",
            SLEEPER,
            health=TcpCheck(port=port),
            ports=(PortUse(port=port, purpose="http"),),
        )
        with pytest.raises(StackError) as caught:
            Supervisor([spec], log_sink=lambda line: None).start()
    assert str(caught.value) == f"server: port already in use: tcp 127.0.0.1:{port} (http)"


def test_a_bind_error_reported_by_the_process_is_detected(sink: Lines) -> None:
    """Without a pre-check: the process logs the bind error (and would keep running)."""
    binder = """
        import socket, sys, time
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", int(sys.argv[1])))
        except OSError as exc:
            print(f"listen tcp: {exc.strerror.lower()}", flush=True)
        time.sleep(600)
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        spec = ProcessSpec(
            name="binder",
            argv=(sys.executable, "-u", "-c", textwrap.dedent(binder), str(port)),
            health=LogCheck(pattern="listening"),
            fail_pattern="address already in use",
        )
        with pytest.raises(StackError) as caught:
            Supervisor([spec], log_sink=sink).start()
    assert str(caught.value).startswith(
        "binder: failed to start: listen tcp: address already in use\nlast log lines:\n"
    )


def test_tcp_health_check_waits_for_the_listener(sink: Lines, cleanup: list[Supervisor]) -> None:
    port = free_port()
    listener = f"""
        import socket, time
        time.sleep(0.2)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", {port}))
        sock.listen(8)
        print("listening", flush=True)
        time.sleep(600)
    """
    supervisor = Supervisor([py("listener", listener, health=TcpCheck(port=port))], log_sink=sink)
    cleanup.append(supervisor)
    supervisor.start()
    assert "[listener] listening" in sink.snapshot()


def test_watch_reports_a_process_that_exits_later(sink: Lines, cleanup: list[Supervisor]) -> None:
    quitter = """
        import sys, time
        print("ready", flush=True)
        time.sleep(0.3)
        print("bye", flush=True)
        sys.exit(7)
    """
    supervisor = Supervisor(
        [py("quitter", quitter, health=LogCheck(pattern="ready"))], log_sink=sink
    )
    cleanup.append(supervisor)
    supervisor.start()
    stop = threading.Event()
    error = supervisor.watch(stop, poll_s=0.05)
    assert error is not None
    assert str(error).startswith("quitter: exited unexpectedly with code 7\n")
    assert "[quitter] bye" in str(error)


def test_watch_returns_none_when_asked_to_stop(cleanup: list[Supervisor]) -> None:
    supervisor = Supervisor(
        [py("sleeper", SLEEPER, health=LogCheck(pattern="ready"))], log_sink=lambda line: None
    )
    cleanup.append(supervisor)
    supervisor.start()
    stop = threading.Event()
    stop.set()
    assert supervisor.watch(stop) is None


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"^specs: duplicate process names \['a'\]$"):
        Supervisor([py("a", SLEEPER), py("a", SLEEPER)])
    with pytest.raises(ValueError, match=r"^argv: must not be empty$"):
        ProcessSpec(name="x", argv=())
    with pytest.raises(ValueError, match=r"^name: must be a non-empty word"):
        ProcessSpec(name="two words", argv=("true",))
    with pytest.raises(ValueError, match=r"^start_timeout_s: must be > 0 s, got 0"):
        ProcessSpec(name="x", argv=("true",), start_timeout_s=0)
    with pytest.raises(ValueError, match=r"^pattern: invalid regular expression"):
        LogCheck(pattern="(")
    with pytest.raises(ValueError, match=r"^port: must be between 1 and 65535, got 0$"):
        PortUse(port=0)


def test_free_ports_are_distinct_and_free_for_tcp_and_udp() -> None:
    ports = free_ports(4)
    assert len(set(ports)) == 4
    for port in ports:
        assert not port_in_use(port, protocol="tcp")
        assert not port_in_use(port, protocol="udp")
    udp = free_port(protocol="udp")
    assert not port_in_use(udp, protocol="udp")


class Interrupted(BaseException):
    """Stands in for KeyboardInterrupt raised by a signal handler."""


def test_an_interrupt_during_start_stops_what_was_started(sink: Lines) -> None:
    reporter = """
        import os, time
        print(f"pid {os.getpid()}", flush=True)
        time.sleep(600)
    """
    spec = py("slow", reporter, health=LogCheck(pattern="never"), start_timeout_s=GUARD_S)

    def interrupt(_signum: int, _frame: object) -> None:
        raise Interrupted

    def send_when_started() -> None:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            if any("[slow] pid" in line for line in sink.snapshot()):
                os.kill(os.getpid(), signal.SIGUSR1)
                return
            time.sleep(0.02)

    previous = signal.signal(signal.SIGUSR1, interrupt)
    sender = threading.Thread(target=send_when_started)
    try:
        sender.start()
        with pytest.raises(Interrupted):
            Supervisor([spec], log_sink=sink).start()
    finally:
        sender.join()
        signal.signal(signal.SIGUSR1, previous)
    pid = next(int(line.split()[-1]) for line in sink.snapshot() if "[slow] pid" in line)
    assert wait_gone([pid]) == []
