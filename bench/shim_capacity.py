"""Calls per core for the carrier shim, one room backend at a time (part 3 of bench.shim).

The shim runs in its own process pinned to CPU 0 (with its ``omnivoice-media`` child when
the backend is ``native``; the child inherits the pin and its CPU time is counted). N
Twilio clients (in the parent, CPU 1) stream μ-law at real time while a synthetic agent
feeds 20 ms of audio per call per 20 ms into each bridge (the outbound path without N extra
room peers). A step passes with zero frames lost both ways and the shim's 20 ms timer late
by < 40 ms at p99 (overload over TCP shows up as delay, not loss).

Backends (:data:`BACKENDS`): ``native`` (rooms joined by omnivoice-media: caller audio
published as G.711, no Opus encoding), ``rtc-routed`` (livekit rtc in the shim process with
our FFI event router) and ``rtc-sdk`` (livekit rtc's own event delivery), the peers for the
ratios.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import aiohttp

from omnivoice_rtc.livekit.ffi_router import set_ffi_routing
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.settings import LiveKitSettings

from .shim import (
    FRAME_MS,
    LATE_BOUND_MS,
    _open_twilio,
    _pct,
    _start_shim,
    _tone,
    run_twilio_caller,
)

__all__ = ["BACKENDS", "bench_capacity", "most_calls"]

BACKENDS: Final = ("native", "rtc-routed", "rtc-sdk")


def _child_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _shim_process(
    lk: dict[str, str], port_q: Any, cmd_q: Any, result_q: Any, backend: str = "native"
) -> None:
    import logging

    set_ffi_routing(backend != "rtc-sdk")

    logging.basicConfig(level=logging.WARNING, format="shim: %(levelname)s %(name)s %(message)s")
    logging.getLogger("omnivoice_rtc.shim").setLevel(logging.INFO)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    asyncio.run(_shim_main(LiveKitSettings(**lk), port_q, cmd_q, result_q, backend))


async def _shim_main(
    lk: LiveKitSettings, port_q: Any, cmd_q: Any, result_q: Any, backend: str
) -> None:
    native = NativeMediaProcess() if backend == "native" else None
    runner, port, gateway = await _start_shim(lk, "none", native=native)
    if native is not None:
        await native.socket_path()  # started now, so its CPU is measured from the reset
    loop = asyncio.get_running_loop()
    port_q.put(port)
    lateness: list[float] = []
    fed = 0
    agent_pcm = _tone(8000, FRAME_MS, freq=440)

    async def synthetic_agent() -> None:
        nonlocal fed
        t0 = time.monotonic()
        tick = 0
        while True:
            tick += 1
            due = t0 + tick * FRAME_MS / 1000
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lateness.append((time.monotonic() - due) * 1000)
            for bridge in list(gateway._bridges):  # reason: bench reaches in to feed agent audio
                if bridge.relaying.is_set():
                    bridge.on_agent_audio(agent_pcm)
                    fed += 1

    feeder = asyncio.ensure_future(synthetic_agent())
    while True:
        cmd = await loop.run_in_executor(None, cmd_q.get)
        if cmd == "stop":
            break
        if cmd == "reset":
            for bridge in gateway._bridges:  # count the measured window only
                bridge.counters.__init__()  # type: ignore[misc]  # reason: reset a dataclass in place
            lateness.clear()
            fed = 0
            cpu0 = time.process_time() + _child_cpu_s(native.pid if native else None)
            wall0 = time.monotonic()
            continue
        if cmd == "report":
            counters = [b.counters.as_dict() for b in gateway._bridges]
            result_q.put(
                {
                    "late_p99_ms": _pct(lateness, 0.99),
                    "cpu_pct": 100
                    * (time.process_time() + _child_cpu_s(native.pid if native else None) - cpu0)
                    / (time.monotonic() - wall0),
                    "frames_in": sum(c["frames_in"] for c in counters),
                    "frames_out": sum(c["frames_out"] for c in counters),
                    "dropped": sum(
                        v for c in counters for k, v in c.items() if k.startswith("dropped")
                    ),
                    **{
                        k: sum(c[k] for c in counters)
                        for k in ("dropped_too_fast", "dropped_outbound", "frames_late")
                    },
                    "calls": len(counters),
                    "media_cpus": sorted(os.sched_getaffinity(native.pid))
                    if native is not None and native.pid is not None
                    else [],
                }
            )
        if cmd == "relaying":
            result_q.put(sum(1 for b in gateway._bridges if b.relaying.is_set()))
            continue
        if cmd.startswith("token "):
            call_id = cmd.split()[1]
            result_q.put(await gateway.runtime.tokens.issue(call_id, "twilio"))
    feeder.cancel()
    await runner.cleanup()
    if native is not None:
        await native.aclose()


async def _capacity_step(
    port: int, n: int, seconds: float, cmd_q: Any, result_q: Any
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    received = [0] * n
    sent = [0] * n

    grants: list[tuple[str, str]] = []
    for _ in range(n):  # one at a time: the reply queue is shared
        call_id = "CA" + secrets.token_hex(16)
        cmd_q.put(f"token {call_id}")
        grants.append((call_id, await loop.run_in_executor(None, result_q.get)))

    def counter(counts: list[int], i: int) -> Callable[..., None]:
        def count(*_: object) -> None:
            counts[i] += 1

        return count

    async def call(
        i: int, http: aiohttp.ClientSession, ready: asyncio.Event, go: asyncio.Event
    ) -> None:
        call_id, token = grants[i]
        url = f"ws://127.0.0.1:{port}/carriers/twilio/media"
        ws, codec = await _open_twilio(http, url, call_id=call_id, token=token)
        ready.set()
        await run_twilio_caller(
            ws,
            codec,
            seconds=seconds,
            go=go,
            on_sent=counter(sent, i),
            on_media=counter(received, i),
        )

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        readies = [asyncio.Event() for _ in range(n)]
        go = asyncio.Event()
        tasks = [asyncio.ensure_future(call(i, http, readies[i], go)) for i in range(n)]
        await asyncio.gather(*(e.wait() for e in readies))
        joined = 0
        for _ in range(120):  # every room joined (measure the steady state, not the joins)
            cmd_q.put("relaying")
            joined = await loop.run_in_executor(None, result_q.get)
            if joined >= n:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)
        cmd_q.put("reset")
        go.set()
        await asyncio.sleep(seconds + 0.2)
        cmd_q.put("report")
        report: dict[str, float] = await loop.run_in_executor(None, result_q.get)
        await asyncio.gather(*tasks)
    report["sent"] = sum(sent)
    report["received"] = sum(received)
    return report


async def bench_capacity(
    lk: LiveKitSettings, steps: list[int], seconds: float, *, backend: str = "native"
) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    port_q, cmd_q, result_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    lk_dict = {"url": lk.url, "api_key": lk.api_key, "api_secret": lk.api_secret}
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    results: list[dict[str, Any]] = []
    for n in steps:
        proc = ctx.Process(target=_shim_process, args=(lk_dict, port_q, cmd_q, result_q, backend))
        proc.start()
        port = port_q.get(timeout=60)
        try:
            report: dict[str, Any] = await _capacity_step(port, n, seconds, cmd_q, result_q)
        finally:
            cmd_q.put("stop")
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        report["n"] = n
        report["backend"] = backend
        report["ok"] = float(
            report["dropped"] == 0
            and report["frames_in"] >= report["sent"] * 0.99
            and report["received"] >= report["frames_out"] * 0.99
            and report["late_p99_ms"] < LATE_BOUND_MS
        )
        print(json.dumps(report), file=sys.stderr)
        results.append(report)
        if not report["ok"]:
            break
    return results


def most_calls(rows: list[dict[str, Any]], backend: str) -> int:
    """The largest passing step of one backend's capacity run (0 when none passed)."""
    return max((int(r["n"]) for r in rows if r["backend"] == backend and r["ok"]), default=0)
