"""Calls per core for pipecat's own Twilio path: the peer of bench.shim_capacity.

Each call is what pipecat's Twilio examples run per WebSocket: a
``WebsocketServerTransport`` (one client per server, so one server per call) with
``TwilioFrameSerializer``, and a pipeline ``input -> echo -> output`` whose echo stands in
for the agent (20 ms of audio out per 20 ms in, like the synthetic agent of the shim bench).
No LiveKit room is involved: this is pipecat's carrier-side work alone, while our figure
includes publishing every call into a room. Same process layout and pass rule as
bench.shim_capacity: the calls in a process pinned to CPU 0, the Twilio clients on CPU 1,
a 20 ms timer in the served process late by < 40 ms at p99, ≥ 99 % of the frames through.

Run: ``python -m bench.pipecat_capacity --calls 10,25,50,75,100``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import secrets
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from omnivoice_rtc.stack import free_ports

from .shim import FRAME_MS, LATE_BOUND_MS, _open_twilio, _pct, run_twilio_caller

__all__ = ["bench_pipecat_capacity"]


def _serve(ports: list[int], ready_q: Any, cmd_q: Any, result_q: Any) -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {0})
    asyncio.run(_serve_main(ports, ready_q, cmd_q, result_q))


async def _serve_main(ports: list[int], ready_q: Any, cmd_q: Any, result_q: Any) -> None:
    from loguru import logger as pipecat_logger
    from pipecat.frames.frames import Frame, InputAudioRawFrame, OutputAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineParams, PipelineTask
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.transports.websocket.server import (
        WebsocketServerParams,
        WebsocketServerTransport,
    )

    pipecat_logger.remove()

    class Echo(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame):
                frame = OutputAudioRawFrame(
                    audio=frame.audio, sample_rate=frame.sample_rate, num_channels=1
                )
            await self.push_frame(frame, direction)

    runners = []
    for port in ports:
        serializer = TwilioFrameSerializer(
            stream_sid="MZ" + "0" * 32,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )
        transport = WebsocketServerTransport(
            params=WebsocketServerParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                add_wav_header=False,
                serializer=serializer,
            ),
            host="127.0.0.1",
            port=port,
        )
        task = PipelineTask(
            Pipeline([transport.input(), Echo(), transport.output()]),
            params=PipelineParams(audio_in_sample_rate=8000, audio_out_sample_rate=8000),
        )
        runner = PipelineRunner(handle_sigint=False)
        runners.append(asyncio.ensure_future(runner.run(task)))
    lateness: list[float] = []

    async def timer() -> None:
        t0, tick = time.monotonic(), 0
        while True:
            tick += 1
            due = t0 + tick * FRAME_MS / 1000
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            lateness.append((time.monotonic() - due) * 1000)

    clock = asyncio.ensure_future(timer())
    await asyncio.sleep(1.0)
    ready_q.put("ready")
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.process_time(), time.monotonic()
    while True:
        cmd = await loop.run_in_executor(None, cmd_q.get)
        if cmd == "reset":
            lateness.clear()
            cpu0, wall0 = time.process_time(), time.monotonic()
        elif cmd == "report":
            result_q.put(
                {
                    "late_p99_ms": _pct(lateness, 0.99),
                    "cpu_pct": 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0),
                }
            )
        elif cmd == "stop":
            break
    clock.cancel()
    for r in runners:
        r.cancel()
    await asyncio.gather(clock, *runners, return_exceptions=True)


async def _step(n: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready_q, cmd_q, result_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    ports = free_ports(n)
    proc = ctx.Process(target=_serve, args=(ports, ready_q, cmd_q, result_q))
    proc.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, ready_q.get, True, 120)
    sent = [0] * n
    received = [0] * n
    """20 ms frames' worth of μ-law received (pipecat batches 40 ms per message)."""
    go = asyncio.Event()
    measuring = asyncio.Event()

    def count_sent(i: int) -> Callable[[], None]:
        def count() -> None:
            if measuring.is_set():
                sent[i] += 1

        return count

    def count_received(i: int) -> Callable[[str], None]:
        def count(data: str) -> None:
            if measuring.is_set():  # pipecat sends 40 ms chunks: count bytes
                payload = json.loads(data)["media"]["payload"]
                received[i] += len(base64.b64decode(payload)) // 160

        return count

    async def call(i: int, http: aiohttp.ClientSession) -> None:
        url = f"ws://127.0.0.1:{ports[i]}"
        ws, codec = await _open_twilio(http, url, call_id="CA" + secrets.token_hex(16))
        await run_twilio_caller(
            ws,
            codec,
            seconds=seconds,
            go=go,
            on_sent=count_sent(i),
            on_media=count_received(i),
        )

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            tasks = [asyncio.ensure_future(call(i, http)) for i in range(n)]
            go.set()
            await asyncio.sleep(2.0)  # warm-up: streams started
            cmd_q.put("reset")
            measuring.set()
            await asyncio.sleep(seconds - 2.5)
            measuring.clear()
            cmd_q.put("report")
            report: dict[str, Any] = await loop.run_in_executor(None, result_q.get)
            await asyncio.gather(*tasks)
    finally:
        cmd_q.put("stop")
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    report.update(n=n, backend="pipecat", sent=sum(sent), received=sum(received))
    report["ok"] = float(
        report["received"] >= report["sent"] * 0.97 and report["late_p99_ms"] < LATE_BOUND_MS
    )
    return report


async def bench_pipecat_capacity(steps: list[int], seconds: float) -> list[dict[str, Any]]:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {1})
    rows = []
    for n in steps:
        row = await _step(n, seconds)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
        if not row["ok"]:
            break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="10,25,50,75,100")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    rows = asyncio.run(
        bench_pipecat_capacity([int(x) for x in args.calls.split(",")], args.seconds)
    )
    best = max((int(r["n"]) for r in rows if r["ok"]), default=0)
    print(f"pipecat Twilio websocket path, calls per core: {best}")


if __name__ == "__main__":
    main()
