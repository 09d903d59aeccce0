"""NativeMediaProcess: start on first use, one process for all callers, stop on aclose.

A stand-in executable plays the binary here (the protocol is only "print ready, run until
stdin closes"); the real omnivoice-media is exercised by tests/integration/shim.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.native import NativeMediaProcess

pytestmark = pytest.mark.unit


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-media"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def test_started_once_shared_and_stopped(tmp_path: Path) -> None:
    binary = _script(tmp_path, 'echo "ready $2"\ncat >/dev/null\n')
    process = NativeMediaProcess(binary=binary)
    first, second = await asyncio.gather(process.socket_path(), process.socket_path())
    assert first == second
    assert first.endswith("/media.sock")
    pid = process.pid
    assert pid is not None
    assert process.running
    await process.aclose()
    assert not process.running
    assert process.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(StackError, match=r"^omnivoice-media: the process owner is closed$"):
        await process.socket_path()
    await process.aclose()  # idempotent


async def test_exit_before_ready_is_a_stack_error(tmp_path: Path) -> None:
    process = NativeMediaProcess(binary=_script(tmp_path, "exit 3\n"))
    with pytest.raises(StackError, match=r"^omnivoice-media: exited with code 3 before ready$"):
        await process.socket_path()
    await process.aclose()


async def test_silence_past_the_timeout_is_a_stack_error(tmp_path: Path) -> None:
    process = NativeMediaProcess(binary=_script(tmp_path, "exec sleep 30\n"), start_timeout_s=0.2)
    with pytest.raises(StackError, match=r"^omnivoice-media: not ready within 0\.2 s$"):
        await process.socket_path()
    await process.aclose()


async def test_restarted_after_it_died(tmp_path: Path) -> None:
    process = NativeMediaProcess(binary=_script(tmp_path, 'echo "ready $2"\ncat >/dev/null\n'))
    await process.socket_path()
    first = process.pid
    assert first is not None
    os.kill(first, 9)
    for _ in range(100):
        if not process.running:
            break
        await asyncio.sleep(0.01)
    await process.socket_path()
    assert process.pid not in (None, first)
    await process.aclose()
