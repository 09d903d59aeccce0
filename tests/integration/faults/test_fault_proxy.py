"""The fault proxy itself, against a real echo server: each mode does what it says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.fakes.fault_proxy import FaultProxy

pytestmark = [pytest.mark.integration, pytest.mark.faults]


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[FaultProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fault = await FaultProxy(target_host="127.0.0.1", target_port=port).start()
    try:
        yield fault
    finally:
        await fault.aclose()
        server.close()
        await server.wait_closed()


async def _roundtrip(proxy: FaultProxy, data: bytes, timeout_s: float = 2.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), timeout_s)
    finally:
        writer.close()


async def test_pass_and_delay_carry_the_bytes_in_order(proxy: FaultProxy) -> None:
    assert await _roundtrip(proxy, b"hello") == b"hello"
    proxy.set_mode("delay", delay_s=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await _roundtrip(proxy, b"x" * 100_000) == b"x" * 100_000
    assert loop.time() - started >= 0.4  # held both ways
    assert proxy.connections == 2


async def test_stall_holds_the_bytes_until_released(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    proxy.set_mode("stall")
    writer.write(b"held")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(4), 0.5)
    proxy.set_mode("pass")
    assert await asyncio.wait_for(reader.readexactly(4), 2) == b"held"
    writer.close()


async def test_blackhole_answers_nothing_and_keeps_the_connection_open(proxy: FaultProxy) -> None:
    proxy.set_mode("blackhole")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"anyone?")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    assert not reader.at_eof()
    writer.close()


async def test_reset_aborts_open_and_new_connections(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"a")
    assert await asyncio.wait_for(reader.readexactly(1), 2) == b"a"
    assert proxy.reset_all() == 1
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)
    proxy.set_mode("reset")
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await _roundtrip(proxy, b"b")
