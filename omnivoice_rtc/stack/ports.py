"""Free-port helpers for the stack and the tests.

A port found free can be taken by someone else before it is used; callers that
start servers on such ports retry on :class:`~omnivoice_rtc.StackError` caused by a
port clash (the supervisor detects it).
"""

from __future__ import annotations

import errno
import random
import socket
from typing import Literal

__all__ = ["free_port", "free_ports", "port_in_use", "use_port_range"]

Protocol = Literal["tcp", "udp"]


def _socket(protocol: Protocol) -> socket.socket:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    return socket.socket(socket.AF_INET, kind)


def port_in_use(port: int, *, protocol: Protocol = "tcp", host: str = "127.0.0.1") -> bool:
    """True when binding ``host:port`` for ``protocol`` fails with EADDRINUSE.

    TCP is checked with SO_REUSEADDR, like the servers we start, so sockets in
    TIME_WAIT do not count as "in use".
    """
    with _socket(protocol) as sock:
        if protocol == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            if protocol == "tcp":
                sock.listen(1)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


_port_range: tuple[int, int] | None = None
"""Where :func:`free_ports` looks (``[low, high)``); None = ports the kernel chooses."""


def use_port_range(low: int, high: int) -> None:
    """Hand out ports from ``[low, high)`` only (e.g. one range per parallel test process,
    below the kernel's ephemeral range, so two processes never pick the same port)."""
    global _port_range
    if not 1024 <= low < high <= 65536:
        raise ValueError(f"port range: need 1024 <= low < high <= 65536, got {low}..{high}")
    _port_range = (low, high)


def _candidate(sock: socket.socket, host: str) -> int:
    """Bind ``sock`` to a port (from the configured range, else the kernel's) and return it."""
    if _port_range is None:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
    for _ in range(200):
        port = random.randrange(*_port_range)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise
        return port
    raise OSError(errno.EADDRINUSE, f"no free port in {_port_range[0]}..{_port_range[1]}")


def free_port(*, protocol: Protocol = "tcp", host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` for ``protocol`` right now (kernel-chosen)."""
    return free_ports(1, protocol=protocol, host=host)[0]


def free_ports(count: int, *, protocol: Protocol = "tcp", host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that are free for ``protocol`` *and* the other protocol.

    Checking both protocols lets one number serve e.g. livekit's TCP and UDP RTC
    ports, and avoids handing out a port a UDP server already holds.
    """
    if count < 1:
        raise ValueError(f"count: must be >= 1, got {count}")
    other: Protocol = "udp" if protocol == "tcp" else "tcp"
    found: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(found) < count:
            sock = _socket(protocol)
            held.append(sock)  # keep it bound so the kernel does not hand it out twice
            port = _candidate(sock, host)
            if port in found or port_in_use(port, protocol=other, host=host):
                continue
            found.append(port)
    finally:
        for sock in held:
            sock.close()
    return found
