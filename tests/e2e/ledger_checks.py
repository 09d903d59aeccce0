"""The call ledger checks every e2e call ends with (issue "Every call accounted for"):
``omnivoice-rtc calls list --json`` shows the call with its route, end reason, both
sides of the transcript and non-zero latency figures."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from omnivoice_rtc.ledger.queries import get_call
from omnivoice_rtc.ledger.record import CallRecord
from omnivoice_rtc.ledger.store import CallLedger

__all__ = ["assert_complete", "cli_records", "wait_for_record"]


async def wait_for_record(
    ledger_url: str, ref: str, *, final: bool = True, timeout_s: float = 60.0
) -> CallRecord:
    """The record of ``ref`` once it is final (``final=False``: once the agent reported)."""
    ledger = await CallLedger.open(ledger_url)
    try:
        deadline = time.monotonic() + timeout_s
        record = await get_call(ledger, ref)
        while time.monotonic() < deadline:
            done = record is not None and (
                record.status == "final" if final else record.agent_reported and record.ended_at
            )
            if done:
                break
            await asyncio.sleep(0.25)
            record = await get_call(ledger, ref)
    finally:
        await ledger.aclose()
    assert record is not None, f"no record of {ref!r} in the ledger"
    return record


async def cli_records(ledger_url: str) -> list[dict[str, Any]]:
    """``omnivoice-rtc calls list --json --transcripts`` (a real process) on ``ledger_url``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "omnivoice_rtc.cli",
        "calls",
        "list",
        "--json",
        "--transcripts",
        "--limit",
        "1000",
        env={**os.environ, "OMNIVOICE_DATABASE_URL": ledger_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    records: list[dict[str, Any]] = json.loads(out)
    return records


def assert_complete(record: dict[str, Any], *, route: str, carrier: str = "") -> None:
    """Route, end reason, both sides of the transcript and non-zero latency figures."""
    context = json.dumps(record, indent=1)[:4000]
    assert record["route"] == route, context
    if carrier:
        assert record["carrier"] == carrier, context
    assert record["end_reason"], context
    assert record["ended_at"], context
    roles = {turn["role"] for turn in record["transcript"] if turn["text"].strip()}
    assert roles == {"user", "agent"}, context
    metrics = record["metrics"]
    averages = [metrics.get(f"avg_{k}_latency_ms", 0) for k in ("stt", "llm", "tts", "total")]
    assert any(value > 0 for value in averages), context
    per_turn = [v for turn in record["transcript"] for v in turn["latency_ms"].values() if v]
    assert per_turn, context
