"""Shared steps of the carrier e2e tests: speech, event waits, room checks."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import subprocess
import time
from collections.abc import Callable

from livekit import api, rtc

from omnivoice_rtc.shim.media_stream_gateway import MediaStreamGateway
from omnivoice_rtc.shim.pstn_session import PstnSession
from omnivoice_rtc.types import Event, EventType

__all__ = ["EventLog", "espeak", "room_is_gone", "until", "wait_for_session"]


async def until(predicate: Callable[[], bool], *, timeout_s: float, what: object = "") -> None:
    """Poll ``predicate`` (state filled by background tasks) until true or fail."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(detail or "condition not met in time")
        await asyncio.sleep(0.05)


@functools.lru_cache(maxsize=32)
def espeak(text: str, *, rate_hz: int, wpm: int = 140) -> bytes:
    """espeak-ng speech of ``text`` as PCM16 mono at ``rate_hz`` (8000 or 16000).

    Synchronous (a subprocess): call it before calls start, or in a thread, so the shim
    sharing this event loop is not stalled; results are cached."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", "en-us", "-s", str(wpm), text],
        check=True,
        capture_output=True,
    ).stdout
    data = wav.find(b"data") + 8
    src_rate = int.from_bytes(wav[24:28], "little")
    body = wav[data : len(wav) - (len(wav) - data) % 2]
    resampler = rtc.AudioResampler(src_rate, rate_hz, quality=rtc.AudioResamplerQuality.HIGH)
    out = bytearray()
    for frame in [*resampler.push(bytearray(body)), *resampler.flush()]:
        out += frame.data.tobytes()
    return bytes(out)


async def wait_for_session(
    gateway: MediaStreamGateway, call_id: str, *, timeout_s: float = 20.0
) -> PstnSession:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session = gateway.get_session(call_id)
        if session is not None and session.bridge is not None:
            return session
        await asyncio.sleep(0.05)  # reason: polls a dict filled by the server task
    raise TimeoutError(f"no session for call {call_id}")


class EventLog:
    """Collects a session's events (with arrival times) in a background task."""

    def __init__(self, session: PstnSession) -> None:
        self.events: list[tuple[float, Event]] = []
        self._changed = asyncio.Event()
        self._task = asyncio.ensure_future(self._collect(session))

    async def _collect(self, session: PstnSession) -> None:
        async for event in session.events():
            self.events.append((time.monotonic(), event))
            self._changed.set()

    async def wait_for(
        self,
        kind: EventType,
        *,
        where: Callable[[Event], bool] = lambda e: True,
        since: float = 0.0,
        timeout_s: float = 30.0,
    ) -> tuple[float, Event]:
        async def wait() -> tuple[float, Event]:
            while True:
                for at, event in self.events:
                    if at >= since and event.type is kind and where(event):
                        return at, event
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout_s)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def room_is_gone(lk: api.LiveKitAPI, room_name: str, *, timeout_s: float = 15.0) -> bool:
    """True once ``room_name`` no longer exists on the server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
        if not rooms.rooms:
            return True
        await asyncio.sleep(0.2)
    return False
