"""``omnivoice-rtc calls list/show/purge`` on a SQLite ledger."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from omnivoice_rtc.cli import main
from omnivoice_rtc.cli.calls import parse_when
from omnivoice_rtc.ledger.facts import CallOpened, TurnFact
from omnivoice_rtc.ledger.keys import CallParties
from omnivoice_rtc.ledger.store import CallLedger, utc_now

pytestmark = pytest.mark.unit


async def _fill(url: str) -> str:
    ledger = await CallLedger.open(url)
    try:
        now = utc_now()
        old = CallOpened(
            room_name="web-old",
            participant_identity="v0",
            parties=CallParties(route="browser"),
            source="agent",
            created_at=now - timedelta(days=10),
        )
        await ledger.open_call(old)
        fact = CallOpened(
            room_name="web-new",
            participant_identity="v1",
            parties=CallParties(route="browser"),
            source="agent",
            created_at=now,
        )
        call_id = await ledger.open_call(fact)
        await ledger.add_turn(
            call_id, TurnFact(role="user", text="what time is it", started_at=now, stt_ms=90)
        )
        await ledger.add_turn(
            call_id,
            TurnFact(role="agent", text="You said: what time is it", started_at=now, total_ms=640),
        )
        await ledger.mark_ended(
            call_id,
            at=now + timedelta(seconds=5),
            reason="participant_disconnected",
            source="agent",
        )
        return call_id
    finally:
        await ledger.aclose()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    monkeypatch.setenv("OMNIVOICE_DATABASE_URL", url)
    return url, asyncio.run(_fill(url))


def test_list_json_and_text(db: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _url, call_id = db
    assert main(["calls", "list", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["ids"]["room"] for r in records] == ["web-new", "web-old"]
    assert records[0]["id"] == call_id
    assert records[0]["end_reason"] == "participant_disconnected"
    assert main(["calls", "list", "--since", "2d"]) == 0
    text = capsys.readouterr().out
    assert call_id in text
    assert "web-old" not in text
    assert main(["calls", "list", "--json", "--transcripts", "--limit", "1"]) == 0
    [full] = json.loads(capsys.readouterr().out)
    assert [t["role"] for t in full["transcript"]] == ["user", "agent"]


def test_show(db: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _url, call_id = db
    assert main(["calls", "show", call_id, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["transcript"][1]["latency_ms"]["total"] == 640
    assert main(["calls", "show", "web-new"]) == 0  # by room name, as text
    text = capsys.readouterr().out
    assert "You said: what time is it" in text
    assert "total=640ms" in text
    assert main(["calls", "show", "nope"]) == 1
    assert "no call 'nope'" in capsys.readouterr().err


def test_purge(db: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["calls", "purge", "--older-than-days", "5", "--yes"]) == 0
    assert "deleted 1 call(s)" in capsys.readouterr().out
    assert main(["calls", "list", "--json"]) == 0
    assert [r["ids"]["room"] for r in json.loads(capsys.readouterr().out)] == ["web-new"]
    assert main(["calls", "purge", "--yes"]) == 2  # no retention set and no --older-than-days
    assert "OMNIVOICE_RETENTION_DAYS" in capsys.readouterr().err


def test_ledger_off(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMNIVOICE_DATABASE_URL", "off")
    assert main(["calls", "list"]) == 2
    assert "ledger is off" in capsys.readouterr().err


def test_when() -> None:
    now = utc_now()
    assert parse_when("7d", now=now) == now - timedelta(days=7)
    assert parse_when("30m", now=now) == now - timedelta(minutes=30)
    assert parse_when("2026-01-02").isoformat() == "2026-01-02T00:00:00+00:00"
    with pytest.raises(Exception, match="ISO 8601"):
        parse_when("last tuesday")
