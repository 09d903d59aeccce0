"""Call ledger benchmark: write cost per call, and webhook delivery latency.

Run: ``python -m bench.ledger`` (``make bench-ledger``). Options: ``--calls N`` (per
measurement, default 200), ``--concurrency C`` (calls written at once, default 20),
``--postgres URL`` (an existing PostgreSQL; by default one is started like the tests do,
from Debian's package, on a free loopback port, and stopped), ``--markdown``.

1. **Write cost per call**: every fact a real call writes, in the order the writers write
   them: the shim opens and answers it, the agent opens it again (its own facts) and
   answers, 10 turns (5 each side) with latencies, a DTMF and a tool call event, the shim's
   end and counters, the agent's final report, then one sweep (announce + finalize, with
   one webhook endpoint, so the outbox rows are written too). Reported: wall ms per call
   written one after another, and calls per second with ``C`` calls at once (one process,
   one engine each side, like the web server and an agent job).
2. **Webhook delivery latency**: from the agent's final report being written to a local
   receiver (a real aiohttp server on loopback) getting the signed ``call.ended``, through
   the web server's :class:`~omnivoice_rtc.ledger.service.LedgerService` (sweep every
   0.5 s, sender woken by the sweep); p50/p95/max over the calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from omnivoice_rtc.ledger.facts import CallOpened, TurnFact
from omnivoice_rtc.ledger.finalizer import CallSweeper
from omnivoice_rtc.ledger.keys import call_key, classify
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import LedgerSettings, WebhookSettings
from omnivoice_rtc.web.prometheus import CallMetrics
from omnivoice_rtc.webhooks import verify_webhook

SECRET = "bench-secret"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _facts(n: int) -> tuple[str, CallOpened, CallOpened]:
    call_id = f"CA{n:08d}{time.time_ns() % 10**9}"
    room, identity = f"call-twilio-{call_id}", f"caller-twilio-{call_id}"
    attributes = {"carrier": "twilio", "call_id": call_id, "from": "+15550001", "to": "+15550002"}
    now = utc_now()
    shim = CallOpened(
        room_name=room, participant_identity=identity,
        parties=classify(room, attributes, sip_kind=True), source="shim", created_at=now,
    )  # fmt: skip
    agent = CallOpened(
        room_name=room, participant_identity=identity,
        parties=classify(room, attributes, sip_kind=True), source="agent", created_at=now,
        session_id=f"{room}/{identity}", agent_identity="agent-1", pipeline="local",
    )  # fmt: skip
    return call_key(room, identity), shim, agent


async def _one_call(shim: CallLedger, agent: CallLedger, n: int) -> str:
    call_id, shim_fact, agent_fact = _facts(n)
    now = utc_now()
    await shim.open_call(shim_fact)
    await shim.mark_answered(call_id, at=now, source="shim")
    await agent.open_call(agent_fact)
    await agent.mark_answered(call_id, at=now, source="agent")
    for i in range(10):
        role = "user" if i % 2 == 0 else "agent"
        turn = TurnFact(
            role=role, text=f"turn {i} of a call about a pizza order", started_at=now,
            duration_ms=1500, stt_ms=150 if role == "user" else None,
            llm_ms=300 if role == "agent" else None, tts_ms=120 if role == "agent" else None,
            total_ms=800 if role == "agent" else None,
        )  # fmt: skip
        await agent.add_turn(call_id, turn)
    await agent.add_event(call_id, type="dtmf", at=now, source="agent", data={"digit": "7"})
    await agent.add_event(call_id, type="tool_call", at=now, source="agent", data={"name": "menu"})
    await shim.mark_ended(call_id, at=now, reason="carrier_stop", source="shim")
    await shim.set_counters(call_id, {"frames_in": 1500, "frames_out": 1400}, source="shim")
    await agent.agent_report(
        call_id, metrics={"turn_count": 10, "avg_total_latency_ms": 800}, at=now,
        reason="participant_disconnected",
    )  # fmt: skip
    return call_id


async def write_cost(url: str, *, calls: int, concurrency: int) -> dict[str, float]:
    shim, agent = await CallLedger.open(url), await CallLedger.open(url)
    sweeper = CallSweeper(ledger=shim, endpoints=("http://127.0.0.1:9/hook",), report_wait_s=0)
    try:
        await _one_call(shim, agent, -1)  # warm-up
        await sweeper.sweep()
        sequential: list[float] = []
        for n in range(calls):
            started = time.perf_counter()
            await _one_call(shim, agent, n)
            await sweeper.sweep()
            sequential.append((time.perf_counter() - started) * 1000)
        limit = asyncio.Semaphore(concurrency)

        async def bounded(n: int) -> None:
            async with limit:
                await _one_call(shim, agent, calls + n)

        started = time.perf_counter()
        await asyncio.gather(*(bounded(n) for n in range(calls)))
        while (await sweeper.sweep()).finalized:
            pass
        elapsed = time.perf_counter() - started
    finally:
        await shim.aclose()
        await agent.aclose()
    return {
        "ms_per_call_p50": statistics.median(sequential),
        "ms_per_call_p95": _pct(sequential, 0.95),
        "calls_per_s_concurrent": calls / elapsed,
    }


@contextlib.asynccontextmanager
async def _receiver(got: dict[str, float], changed: asyncio.Event) -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        event = verify_webhook(body, request.headers, secret=SECRET)
        if event["type"] == "call.ended":
            got.setdefault(event["data"]["id"], time.perf_counter())
            changed.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # reason: aiohttp exposes the bound port only here
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def delivery_latency(url: str, *, calls: int) -> dict[str, float]:
    got: dict[str, float] = {}
    changed = asyncio.Event()
    async with _receiver(got, changed) as hook:
        service = LedgerService(
            settings=LedgerSettings(database_url=url, report_wait_s=0),
            webhooks=WebhookSettings(urls=(hook,), secrets=(SECRET,)),
            observer=CallMetrics(CollectorRegistry()),
        )
        await service.start()
        agent = await CallLedger.open(url)
        written: dict[str, float] = {}
        try:
            for n in range(calls):
                call_id = await _one_call(agent, agent, 10**6 + n)
                written[call_id] = time.perf_counter()
                await asyncio.sleep(0.05)  # calls end one after another, not all at once

            async def all_delivered() -> None:
                while len(got) < calls:
                    changed.clear()
                    await changed.wait()

            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_delivered(), 60)
        finally:
            await agent.aclose()
            await service.aclose()
    latencies = [(got[c] - t) * 1000 for c, t in written.items() if c in got]
    return {
        "delivered": float(len(latencies)),
        "p50_ms": statistics.median(latencies),
        "p95_ms": _pct(latencies, 0.95),
        "max_ms": max(latencies),
    }


def _start_postgres() -> tuple[str, subprocess.Popen[bytes], Path] | None:
    try:
        from tests.plugins.postgres import start_postgres
    except ImportError:
        return None
    directory = Path(tempfile.mkdtemp(prefix="omnivoice-bench-postgres-"))
    try:
        server, process = start_postgres(directory)
    except BaseException as exc:  # noqa: BLE001 -- reason: pytest.skip raises a BaseException outside pytest; reported, the SQLite figures still run
        print(f"PostgreSQL not started: {exc}", file=sys.stderr)
        return None
    return server.url(), process, directory


def _pairs(targets: list[tuple[str, str]]) -> list[tuple[str, tuple[str, str]]]:
    """(name, (URL for the write cost, a fresh URL for the delivery latency)): the
    delivery figures start from an empty outbox."""
    out: list[tuple[str, tuple[str, str]]] = []
    sqlite = [url for name, url in targets if name.startswith("SQLite")]
    if sqlite:
        out.append(("SQLite (file, WAL)", (sqlite[0], sqlite[-1])))
    for name, url in targets:
        if not name.startswith("SQLite"):
            out.append((name, (url, url)))
    return out


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--postgres", default="", help="an existing PostgreSQL URL")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    targets: list[tuple[str, str]] = []
    scratch = Path(tempfile.mkdtemp(prefix="omnivoice-bench-ledger-"))
    targets.append(("SQLite (file, WAL)", f"sqlite:///{scratch / 'calls.db'}"))
    targets.append(("SQLite (file, WAL)", f"sqlite:///{scratch / 'delivery.db'}"))
    started = None
    if args.postgres:
        targets.append(("PostgreSQL", args.postgres))
    else:
        started = _start_postgres()
        if started is not None:
            targets.append(("PostgreSQL 15 (local)", started[0]))
    try:
        rows = []
        for name, url in _pairs(targets):
            cost = await write_cost(url[0], calls=args.calls, concurrency=args.concurrency)
            delivery = await delivery_latency(url[1], calls=min(args.calls, 50))
            rows.append((name, cost, delivery))
    finally:
        if started is not None:
            started[1].terminate()
            started[1].wait(timeout=20)
            shutil.rmtree(started[2], ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# bench.ledger {when} on {platform.machine()} Python {platform.python_version()}")
    header = (
        f"| database | ms/call p50 | ms/call p95 | calls/s ({args.concurrency} at once) | call.ended delivered "
        "p50 ms | p95 ms | max ms |"
    )
    print(header)
    print("|---|---|---|---|---|---|---|")
    for name, cost, delivery in rows:
        print(
            f"| {name} | {cost['ms_per_call_p50']:.1f} | {cost['ms_per_call_p95']:.1f} | "
            f"{cost['calls_per_s_concurrent']:.0f} | {delivery['p50_ms']:.0f} | "
            f"{delivery['p95_ms']:.0f} | {delivery['max_ms']:.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
