"""FaultProxy: a real TCP hop on loopback that can delay, stall, blackhole or reset traffic.

Put it between a client and a server (a carrier simulator and the shim's WebSocket, the
shim and livekit-server's signalling/API port) and change its mode at any time; the mode
applies to connections already open and to new ones:

=============  ================================================================================
``pass``       bytes flow as they come
``delay``      every chunk is held ``delay_s`` seconds (both directions, order kept)
``stall``      nothing is read or written until the mode changes (TCP flow control backs up,
               as on a congested link); new connections are accepted and wait
``blackhole``  everything read is dropped, nothing is ever answered (a half-open connection:
               the peer's pings go unanswered); new connections are accepted and eaten too
``reset``      open connections are aborted with a TCP RST (both sides); new connections are
               reset as soon as they are accepted
=============  ================================================================================

:meth:`FaultProxy.reset_all` resets the open connections once without changing the mode.
``connections`` counts every connection accepted; ``open_connections`` those still open.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["FaultMode", "FaultProxy"]

FaultMode = Literal["pass", "delay", "stall", "blackhole", "reset"]

_CHUNK_BYTES = 64 * 1024


def _rst(writer: asyncio.StreamWriter) -> None:
    """Abort the connection with a RST (SO_LINGER on, 0 s) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None and not writer.transport.is_closing():
                _rst(writer)
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """``127.0.0.1:<port>`` -> ``target_host:target_port`` (see the module docstring)."""

    def __init__(self, *, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode: FaultMode = "pass"
        self.delay_s = 0.0
        self.connections = 0
        self._links: set[_Link] = set()
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.reset()
        self._links.clear()
        if self._server is not None:
            await self._server.wait_closed()

    def set_mode(self, mode: FaultMode, *, delay_s: float = 0.0) -> None:
        """Switch to ``mode`` now (``delay_s`` for ``delay``, in seconds)."""
        self.mode = mode
        self.delay_s = delay_s
        self._changed.set()
        self._changed = asyncio.Event()
        if mode == "reset":
            self.reset_all()

    def reset_all(self) -> int:
        """Reset every open connection (RST both ways); returns how many."""
        links = list(self._links)
        for link in links:
            link.reset()
        self._links.clear()
        return len(links)

    # ------------------------------------------------------------------ plumbing

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(client=writer)
        if self.mode == "reset":
            _rst(writer)
            return
        self._links.add(link)
        try:
            if self.mode == "blackhole":
                await self._eat(reader)
                return
            while self.mode == "stall":
                await self._changed.wait()
            if self.mode in ("blackhole", "reset"):
                await self._eat(reader)
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            link.upstream = up_writer
            link.tasks = [
                asyncio.ensure_future(self._pump(reader, up_writer)),
                asyncio.ensure_future(self._pump(up_reader, writer)),
            ]
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        except (OSError, asyncio.IncompleteReadError):
            pass  # a side went away: the link ends
        finally:
            self._links.discard(link)
            for task in link.tasks:
                task.cancel()
            for side in (link.client, link.upstream):
                if side is not None and not side.transport.is_closing():
                    side.close()

    async def _eat(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(_CHUNK_BYTES):
            pass

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        """Copy ``src`` to ``dst`` as the mode says; a delayed chunk keeps its place."""
        pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        writer = asyncio.ensure_future(self._write_due(pending, dst))
        try:
            while True:
                while self.mode == "stall":
                    await self._changed.wait()
                chunk = await src.read(_CHUNK_BYTES)
                if not chunk:
                    break
                if self.mode == "blackhole":
                    continue
                due = time.monotonic() + (self.delay_s if self.mode == "delay" else 0.0)
                pending.put_nowait((due, chunk))
            await pending.join()
            if not dst.transport.is_closing():
                if dst.can_write_eof():
                    dst.write_eof()
                else:
                    dst.close()
        finally:
            writer.cancel()

    async def _write_due(
        self, pending: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter
    ) -> None:
        while True:
            due, chunk = await pending.get()
            try:
                wait_s = due - time.monotonic()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
                while self.mode == "stall":
                    await self._changed.wait()
                if self.mode != "blackhole":
                    dst.write(chunk)
                    await dst.drain()
            finally:
                pending.task_done()
