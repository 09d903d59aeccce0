"""FakeMediaSocket: an in-memory carrier media WebSocket (implements shim.MediaSocket).

The test plays the carrier: ``feed_text``/``feed_bytes`` queue frames for the shim to read,
``feed_close`` ends the stream as a carrier hang-up does; what the shim sends is recorded
in ``sent`` (str or bytes, in order) and its close in ``close_code``/``close_message``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, WSMessage, WSMsgType

__all__ = ["FakeMediaSocket"]

_CLOSED = WSMessage(WSMsgType.CLOSED, None, None)


class FakeMediaSocket:
    """See the module docstring. ``close_code`` is None until someone closes it."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[WSMessage] = asyncio.Queue()
        self.sent: list[str | bytes] = []
        self.close_code: int | None = None
        self.close_message = b""
        self.closed_by: str = ""
        self._closed = False
        self.transport_closing = False
        """The connection is going away but ``closed`` is not set yet (aiohttp between a
        peer's reset and the close): sends raise ConnectionResetError."""
        self._sent_event = asyncio.Event()

    # ------------------------------------------------------------------ the carrier's side

    def feed_text(self, text: str) -> None:
        self._inbox.put_nowait(WSMessage(WSMsgType.TEXT, text, None))

    def feed_json(self, obj: Any) -> None:
        self.feed_text(json.dumps(obj, separators=(",", ":")))

    def feed_bytes(self, data: bytes) -> None:
        self._inbox.put_nowait(WSMessage(WSMsgType.BINARY, data, None))

    def feed_close(self, code: int = WSCloseCode.OK) -> None:
        """The carrier closes the socket (a hang-up)."""
        if not self._closed:
            self._closed = True
            self.close_code = code
            self.closed_by = "carrier"
        self._inbox.put_nowait(_CLOSED)

    def sent_json(self) -> list[Any]:
        """Every text frame the shim sent, parsed."""
        return [json.loads(m) for m in self.sent if isinstance(m, str)]

    async def wait_sent(self, count: int, within_s: float = 5.0) -> None:
        """Wait until the shim has sent at least ``count`` frames (at most ``within_s`` s)."""
        async with asyncio.timeout(within_s):
            while len(self.sent) < count:
                self._sent_event.clear()
                await self._sent_event.wait()

    # ------------------------------------------------------------------ MediaSocket

    @property
    def closed(self) -> bool:
        return self._closed

    async def receive(self, timeout: float | None = None) -> WSMessage:  # noqa: ASYNC109  # reason: aiohttp WebSocketResponse.receive signature
        if self._closed and self._inbox.empty():
            return _CLOSED
        async with asyncio.timeout(timeout):
            return await self._inbox.get()

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WSMessage]:
        while True:
            msg = await self.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                return
            yield msg

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self._record(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        self._record(bytes(data))

    def _record(self, data: str | bytes) -> None:
        if self._closed or self.transport_closing:
            raise ConnectionResetError("Cannot write to closing transport")
        self.sent.append(data)
        self._sent_event.set()

    async def close(self, *, code: int = WSCloseCode.OK, message: bytes = b"") -> bool:
        if self._closed:
            return False
        self._closed = True
        self.close_code = code
        self.close_message = message
        self.closed_by = "shim"
        self._inbox.put_nowait(_CLOSED)
        return True
