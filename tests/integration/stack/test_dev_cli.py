"""``omnivoice-rtc dev`` as a user runs it: prints the URLs, Ctrl-C leaves nothing running."""

from __future__ import annotations

import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from livekit import api

from omnivoice_rtc.stack import free_port, free_ports
from tests.conftest import require_binary

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
GUARD_S = 60.0  # upper bound for start-up/shutdown; never asserted as a duration


def cli_path() -> str:
    script = Path(sys.executable).parent / "omnivoice-rtc"
    return str(script) if script.is_file() else "omnivoice-rtc"


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def children_of(pid: int) -> dict[int, str]:
    """Live direct children of ``pid``: pid -> command line."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found[int(entry.name)] = cmdline
    return found


def wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


@dataclass
class DevRun:
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    http_port: int
    udp_port: int
    api_key: str
    api_secret: str

    def wait_for(self, prefix: str | tuple[str, ...]) -> str:
        """The first stdout line (stripped) starting with ``prefix``."""
        deadline = time.monotonic() + GUARD_S
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting with {prefix!r}; output:\n" + "\n".join(seen))


def start_dev(*extra: str, http_port: int | None = None) -> DevRun:
    require_binary("livekit-server")
    ports = free_ports(2)
    http = http_port or ports[0]
    udp = free_port(protocol="udp")
    key, secret = "dev-" + secrets.token_hex(4), secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": key,
        "LIVEKIT_API_SECRET": secret,
        "PYTHONUNBUFFERED": "1",
    }
    argv = [
        cli_path(), "dev", "--livekit-port", str(http), "--rtc-tcp-port", str(ports[1]),
        "--rtc-udp-port", str(udp), "--web-port", str(free_port()), "--no-agent", "--no-sip",
        *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return DevRun(proc, lines, http, udp, key, secret)


def start_dev_ready(runs: list[DevRun], *extra: str) -> tuple[DevRun, str]:
    """``start_dev`` until livekit-server is up; returns the run and its "LiveKit:" line.

    Free ports are only free when probed: another process on this box may bind one
    before livekit-server does ("bind: address already in use"). That is the test's
    port race, not the behaviour under test (test_dev_names_livekit_server_... covers
    it), so a start that hit it is retried on new ports, at most three times.
    """
    for attempt in range(3):
        run = start_dev(*extra)
        runs.append(run)
        try:
            return run, run.wait_for("LiveKit:")
        except AssertionError as exc:
            if "address already in use" not in str(exc) or attempt == 2:
                raise
            run.proc.kill()
            run.proc.wait()
    raise AssertionError("unreachable")


@pytest.fixture
def runs() -> Iterator[list[DevRun]]:
    started: list[DevRun] = []
    yield started
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
        run.proc.wait()


async def test_dev_prints_the_url_and_ctrl_c_stops_everything(runs: list[DevRun]) -> None:
    run, line = start_dev_ready(runs)
    assert line.split() == ["LiveKit:", f"ws://127.0.0.1:{run.http_port}"]
    web_line = run.wait_for(("Web page:", "note: web server"))
    run.wait_for("Press Ctrl-C to stop.")
    if web_line.startswith("Web page:"):  # the web server is part of the tree: check it is up
        async with (
            aiohttp.ClientSession() as http,
            http.get(web_line.split()[-1] + "healthz") as response,
        ):
            assert response.status == 200

    # The server is up and uses the keys from the environment.
    client = api.LiveKitAPI(f"http://127.0.0.1:{run.http_port}", run.api_key, run.api_secret)
    try:
        await client.room.list_rooms(api.ListRoomsRequest())
    finally:
        await client.aclose()

    children = children_of(run.proc.pid)
    assert any("livekit-server" in cmd for cmd in children.values()), children
    run.proc.send_signal(signal.SIGINT)
    assert run.proc.wait(timeout=GUARD_S) == 0
    assert wait_gone(list(children)) == []


def test_dev_stack_dies_with_the_cli_even_on_sigkill(runs: list[DevRun]) -> None:
    run, _ = start_dev_ready(runs, "--no-web")
    run.wait_for("Press Ctrl-C to stop.")
    children = list(children_of(run.proc.pid))
    assert children
    run.proc.send_signal(signal.SIGKILL)
    run.proc.wait()
    assert wait_gone(children) == []


def test_dev_names_livekit_server_when_its_port_is_taken(runs: list[DevRun]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        run = start_dev("--no-web", http_port=port)
        runs.append(run)
        _, stderr = run.proc.communicate(timeout=GUARD_S)
    assert run.proc.returncode == 1
    assert stderr.startswith(
        f"omnivoice-rtc: livekit-server: port already in use: tcp 127.0.0.1:{port}"
    )
