"""Owns the ``omnivoice-media`` process: started on first use, stopped in :meth:`aclose`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Final

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.stack.livekit_server import find_binary

__all__ = ["MEDIA_BINARY", "NativeMediaProcess"]

logger = logging.getLogger(__name__)

MEDIA_BINARY: Final = "omnivoice-media"
_READY_PREFIX: Final = b"ready "


class NativeMediaProcess:
    """One ``omnivoice-media`` per shim process, shared by every call.

    :meth:`socket_path` starts it (once) and returns the Unix socket calls connect to. The
    process exits when :meth:`aclose` closes its stdin, or when this process dies.
    """

    def __init__(self, *, binary: str | None = None, start_timeout_s: float = 10.0) -> None:
        self._binary = binary
        self._start_timeout_s = start_timeout_s
        self._lock = asyncio.Lock()
        self._proc: asyncio.subprocess.Process | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._socket = ""
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The process id while it runs (benchmarks read its CPU time from /proc)."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def socket_path(self) -> str:
        """Path of the Unix socket; starts the process on first use (or after it died)."""
        async with self._lock:
            if self._closed:
                raise StackError("omnivoice-media: the process owner is closed")
            if not self.running:
                await self._start()
            return self._socket

    async def _start(self) -> None:
        binary = self._binary or find_binary(MEDIA_BINARY)
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="omnivoice-media-")
        self._socket = str(Path(self._dir.name) / "media.sock")
        proc = await asyncio.create_subprocess_exec(
            binary,
            "-socket",
            self._socket,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self._start_timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise StackError(
                f"omnivoice-media: not ready within {self._start_timeout_s:g} s"
            ) from None
        if not line.startswith(_READY_PREFIX):
            await proc.wait()
            raise StackError(f"omnivoice-media: exited with code {proc.returncode} before ready")
        self._proc = proc
        logger.info("native media process started", extra={"pid": proc.pid})

    async def aclose(self) -> None:
        """Stop the process (every call it serves leaves its room). Idempotent."""
        async with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            if proc is not None and proc.returncode is None:
                assert proc.stdin is not None
                proc.stdin.close()
                try:
                    await asyncio.wait_for(proc.wait(), 5.0)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            if self._dir is not None:
                with contextlib.suppress(OSError):  # reason: already removed by the process
                    self._dir.cleanup()
                self._dir = None
