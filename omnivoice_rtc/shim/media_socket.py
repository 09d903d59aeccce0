"""What the shim needs from a carrier's media WebSocket, as a Protocol.

aiohttp's ``web.WebSocketResponse`` satisfies it as is; tests drive the handshake, the
bridge and the gateway with :class:`tests.fakes.media_socket.FakeMediaSocket` (no sockets).
Messages are aiohttp's ``WSMessage`` values (``type``, ``data``, ``extra``): plain data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from aiohttp import WSMessage

__all__ = ["MediaSocket"]


class MediaSocket(Protocol):
    """One carrier media stream, already upgraded."""

    @property
    def closed(self) -> bool: ...

    @property
    def close_code(self) -> int | None: ...

    async def receive(self, timeout: float | None = None) -> WSMessage:  # noqa: ASYNC109  # reason: aiohttp WebSocketResponse.receive signature
        """The next message; ``TimeoutError`` after ``timeout`` seconds."""
        ...

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        """Text and binary messages until the socket closes (then the iteration ends)."""
        ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        """Close with ``code``; False when it was already closed."""
        ...
