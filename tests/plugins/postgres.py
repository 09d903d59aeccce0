"""Pytest plugin: a real PostgreSQL (Debian's) for the test session, on a free port.

* ``postgres_server`` (session): ``initdb`` + ``postgres`` from ``/usr/lib/postgresql/*/bin``
  (``make deps`` installs the ``postgresql`` package) in the session's temp dir, listening
  on 127.0.0.1 on a free port, trust authentication. initdb refuses to run as root, so
  as root the server runs as the ``postgres`` user. Under CI=true a missing PostgreSQL
  fails the tests that need it (never skips). Stopped at the end of the session.
* ``postgres_url`` (function): ``postgresql://postgres@127.0.0.1:PORT/<fresh database>``,
  a new empty database per test, dropped afterwards.
* ``ledger_url`` (function, parametrized ``sqlite`` / ``postgresql``): the ledger tests
  run against both databases.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omnivoice_rtc.stack import free_port
from tests.conftest import require

__all__ = ["PostgresServer", "ledger_url", "postgres_server", "postgres_url"]

_START_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class PostgresServer:
    port: int
    data_dir: Path
    log_file: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(argv: list[str], *, as_root: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if as_root else argv


def start_postgres(directory: Path) -> tuple[PostgresServer, subprocess.Popen[bytes]]:
    bin_dir = _bin_dir()
    require(bin_dir is not None, "PostgreSQL (Debian package postgresql)")
    assert bin_dir is not None
    as_root = os.geteuid() == 0
    data_dir, log_file = directory / "data", directory / "postgres.log"
    directory.mkdir(parents=True, exist_ok=True)
    if as_root:
        require(shutil.which("runuser") is not None, "runuser (util-linux)")
        user = pwd.getpwnam("postgres")
        os.chown(directory, user.pw_uid, user.pw_gid)
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
            as_root=as_root,
        ),
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = log_file.open("ab")
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-k", str(directory)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"]
    process = subprocess.Popen(
        _as_postgres(argv, as_root=as_root),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = PostgresServer(port=port, data_dir=data_dir, log_file=log_file)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited: {log_file.read_text(errors='replace')[-2000:]}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return server, process
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"postgres did not start: {log_file.read_text(errors='replace')[-2000:]}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # not under pytest's basetemp: its folders are private to root, and the server runs
    # as the postgres user
    directory = Path(tempfile.mkdtemp(prefix="omnivoice-postgres-"))
    server, process = start_postgres(directory)
    try:
        yield server
    finally:
        _stop(process)
        shutil.rmtree(directory, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: smart shutdown
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    import asyncpg

    name = f"test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_server.url())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield postgres_server.url(name)
    finally:
        admin = await asyncpg.connect(postgres_server.url())
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'calls.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
