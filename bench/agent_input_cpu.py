"""Agent CPU per call by input frame: what 20 ms caller frames cost the agent worker.

``OMNIVOICE_INPUT_FRAME_MS`` (default 20) hands the caller's audio to the agent's VAD and STT
in 20 ms frames instead of livekit-agents' 50 ms: the VAD sees the end of speech up to
30 ms sooner ("Turn latency per route"), for 2.5x the frames a second per call. This bench
measures that price in one run, the peer being livekit-agents' own 50 ms:

* per frame size: a real agent worker (``agents/worker.py start``, the keyless local
  pipeline, livekit-agents' thread executor: every job in the worker's process) on a local
  livekit-server, then ``--calls`` callers (``VoiceClient``: real rtc participants sending
  10 ms frames in real time) in rooms of their own, the agent dispatched to each;
* once every session started, the worker's CPU (user + system, its process and children,
  from ``/proc``) over ``--seconds`` s while the callers send silence, then while they all
  speak (the same espeak sentence, again and again: VAD, STT and replies at work).

Prints CPU in ms per second per call (= ‰ of one core) for each frame size and phase, and
the ratio 20 ms / 50 ms. A loaded machine inflates every figure; the ratio within a run is
the comparable figure.

    python -m bench.agent_input_cpu [--calls 6] [--seconds 20] [--write LABEL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from livekit import api

from bench.doc_runs import append_run
from omnivoice_rtc.types import EventType
from tests.integration.agent.voice_client import VoiceClient, espeak_pcm, participant_token
from tests.plugins.agent_worker import AgentWorker, start_agent_worker
from tests.plugins.livekit_stack import LiveKitServer, start_livekit_server

__all__ = ["FRAME_SIZES_MS", "Phase", "measure"]

FRAME_SIZES_MS: Final = (50, 20)
"""livekit-agents' default first (the peer), then ours."""
SENTENCE: Final = "What is the weather like today"
SECTION: Final = "## Agent CPU per call by input frame"


@dataclass(slots=True)
class Phase:
    """CPU of the worker over one phase of one frame size."""

    frame_ms: int
    phase: str
    calls: int
    seconds: float
    cpu_s: float

    @property
    def per_call_ms_per_s(self) -> float:
        """CPU ms per wall second per call (‰ of one core)."""
        return self.cpu_s * 1000 / self.seconds / self.calls


@dataclass(slots=True)
class _Calls:
    clients: list[VoiceClient] = field(default_factory=list)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def _tree_cpu_s(root_pid: int) -> float:
    """CPU seconds (user + system) used so far by ``root_pid`` and its descendants."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, seconds in cpu.items():
        walker = pid
        while walker not in (0, 1):
            if walker == root_pid:
                total += seconds
                break
            walker = parents.get(walker, 0)
    return total


async def _open_calls(server: LiveKitServer, worker: AgentWorker, calls: int) -> _Calls:
    opened = _Calls()
    async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
        for n in range(calls):
            room = f"cpu-{secrets.token_hex(3)}"
            token = participant_token(
                server.api_key, server.api_secret, room=room, identity=f"caller-{n}"
            )
            client = VoiceClient(url=server.url, token=token)
            await client.connect()
            opened.clients.append(client)
            await worker.dispatch(lk, room)
            await client.wait_for_event(EventType.SESSION_STARTED, timeout_s=120)
    return opened


async def _sample(worker: AgentWorker, seconds: float) -> float:
    pid = worker.process.pid
    before = _tree_cpu_s(pid)
    await asyncio.sleep(seconds)
    return _tree_cpu_s(pid) - before


async def _speak_until(clients: list[VoiceClient], stop: asyncio.Event) -> None:
    pcm = espeak_pcm(SENTENCE)
    while not stop.is_set():
        await asyncio.gather(*(client.say(pcm) for client in clients))
        await asyncio.sleep(1.5)  # the agent answers in the gap


async def measure(*, calls: int, seconds: float, log_dir: Path) -> list[Phase]:
    """Both frame sizes, silent then speaking callers (see the module docstring)."""
    supervisor, server, sink = start_livekit_server(log_dir / "livekit-server.log")
    phases: list[Phase] = []
    try:
        for frame_ms in FRAME_SIZES_MS:
            worker = start_agent_worker(
                server, log_dir=log_dir, env={"OMNIVOICE_INPUT_FRAME_MS": str(frame_ms)}
            )
            opened: _Calls | None = None
            try:
                opened = await _open_calls(server, worker, calls)
                await asyncio.sleep(2.0)  # greetings, warm-up
                silent = await _sample(worker, seconds)
                phases.append(Phase(frame_ms, "silent callers", calls, seconds, silent))
                stop = asyncio.Event()
                talking = asyncio.ensure_future(_speak_until(opened.clients, stop))
                try:
                    speaking = await _sample(worker, seconds)
                finally:
                    stop.set()
                    await talking
                phases.append(Phase(frame_ms, "speaking callers", calls, seconds, speaking))
            finally:
                if opened is not None:
                    await opened.aclose()
                worker.stop()
    finally:
        supervisor.stop()
        sink.close()
    return phases


def report(phases: list[Phase], *, command: str) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"`{command}` ({when}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {load} at the end).",
        "",
        "| input frame | callers | calls | agent worker CPU ms/s per call (‰ of a core) |",
        "|---|---|---|---|",
    ]
    for p in phases:
        lines.append(f"| {p.frame_ms} ms | {p.phase} | {p.calls} | {p.per_call_ms_per_s:.1f} |")
    lines.append("")
    for phase_name in sorted({p.phase for p in phases}):
        by_frame = {p.frame_ms: p for p in phases if p.phase == phase_name}
        if 20 in by_frame and 50 in by_frame and by_frame[50].cpu_s > 0:
            ratio = by_frame[20].cpu_s / by_frame[50].cpu_s
            lines.append(
                f"- {phase_name}: 20 ms / 50 ms (livekit-agents' default) = {ratio:.2f} "
                f"({by_frame[20].per_call_ms_per_s:.1f} vs {by_frame[50].per_call_ms_per_s:.1f})"
            )
    return "\n".join(lines) + "\n"


def write_run(text: str, label: str) -> None:
    """Append this run under ``### label`` in :data:`SECTION` (runs are kept: before/after)."""
    append_run(text, label, section=SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=6, help="concurrent calls per frame size")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--write", metavar="LABEL", help="append the run to docs/benchmarks.md")
    args = parser.parse_args()
    if args.calls < 1 or args.seconds <= 0:
        parser.error("--calls must be >= 1 and --seconds > 0")
    with tempfile.TemporaryDirectory(prefix="agent-cpu-") as tmp:
        phases = asyncio.run(measure(calls=args.calls, seconds=args.seconds, log_dir=Path(tmp)))
    text = report(phases, command="python -m bench.agent_input_cpu " + shlex.join(sys.argv[1:]))
    print(text)
    if args.write:
        write_run(text, args.write)


if __name__ == "__main__":
    main()
