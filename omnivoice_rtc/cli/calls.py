"""``omnivoice-rtc calls``: the call ledger from the command line.

    omnivoice-rtc calls list [--json] [--since WHEN] [--until WHEN] [--route R]
                             [--carrier C] [--end-reason R] [--limit N]
    omnivoice-rtc calls show ID [--json]      ID: record id, carrier or SIP call id, room
    omnivoice-rtc calls purge [--older-than-days N] [--yes]

``WHEN`` is an ISO 8601 date or time (UTC unless it has a zone) or a duration back from
now (``30m``, ``12h``, ``7d``). ``purge`` deletes calls older than ``N`` days
(``OMNIVOICE_RETENTION_DAYS`` by default) with their transcripts.

Exit status: 0 on success, 1 when the call is not found or the database fails, 2 on bad
arguments or with the ledger off. ``omnivoice_rtc.cli`` calls :func:`add_parser`; more
``calls`` subcommands (``active``, ``transfer``, …) register with :func:`add_command`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from omnivoice_rtc.ledger.queries import CallFilter, get_call, list_calls, purge_before
from omnivoice_rtc.ledger.record import CallRecord
from omnivoice_rtc.ledger.store import CallLedger, utc_now
from omnivoice_rtc.settings import Settings

__all__ = ["add_command", "add_parser", "parse_when"]

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_COMMANDS: list[Callable[[Any], None]] = []


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """``7d``/``12h``/``30m`` back from ``now``, or an ISO 8601 date/time (UTC default)."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or utc_now()) - timedelta(seconds=amount * _UNIT_S[unit])
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date/time or a duration like 7d, got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_command(register: Callable[[Any], None]) -> None:
    """Register a function ``(calls_subparsers) -> None`` that adds a ``calls`` subcommand
    (its handler: ``set_defaults(handler=fn)`` with ``fn(args, settings) -> int``)."""
    _COMMANDS.append(register)


def add_parser(subparsers: Any) -> None:
    """Add ``calls`` (list / show / purge, and every registered subcommand)."""
    calls = subparsers.add_parser(
        "calls",
        help="the call ledger: list, show and purge recorded calls",
        description="Recorded calls (OMNIVOICE_DATABASE_URL; docs/ledger.md).",
    )
    commands = calls.add_subparsers(dest="calls_command", required=True, metavar="CALLS_COMMAND")

    listing = commands.add_parser("list", help="recorded calls, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON array of records")
    listing.add_argument("--since", type=parse_when, help="created at or after (date, time, 7d)")
    listing.add_argument("--until", type=parse_when, help="created before")
    listing.add_argument("--route", choices=("browser", "sip", "media_stream"))
    listing.add_argument("--carrier", default="", help="twilio, telnyx, … or sip")
    listing.add_argument("--end-reason", default="", help="e.g. carrier_stop, participant_left")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument(
        "--transcripts", action="store_true", help="with --json: include transcripts"
    )
    listing.set_defaults(handler=_run_list)

    show = commands.add_parser("show", help="one call with its transcript")
    show.add_argument("id", help="record id, carrier call id, SIP call id or room name")
    show.add_argument("--json", action="store_true", help="the record as JSON")
    show.set_defaults(handler=_run_show)

    purge = commands.add_parser("purge", help="delete old calls and their transcripts")
    purge.add_argument(
        "--older-than-days",
        type=int,
        default=None,
        help="default OMNIVOICE_RETENTION_DAYS",
    )
    purge.add_argument("--yes", action="store_true", help="do not ask (required without a TTY)")
    purge.set_defaults(handler=_run_purge)

    for register in _COMMANDS:
        register(commands)


def _with_ledger(
    settings: Settings, what: str, work: Callable[[CallLedger], Coroutine[Any, Any, int]]
) -> int:
    if not settings.ledger.enabled:
        print(
            f"omnivoice-rtc calls {what}: the ledger is off (OMNIVOICE_DATABASE_URL)",
            file=sys.stderr,
        )
        return 2

    async def run() -> int:
        ledger = await CallLedger.open(settings.ledger.database_url)
        try:
            return await work(ledger)
        finally:
            await ledger.aclose()

    try:
        return asyncio.run(run())
    except (SQLAlchemyError, OSError) as exc:
        print(f"omnivoice-rtc calls {what}: database error: {exc}", file=sys.stderr)
        return 1


def _line(record: CallRecord) -> str:
    created = record.created_at.strftime("%Y-%m-%d %H:%M:%S")
    duration = "-" if record.duration_s is None else f"{record.duration_s:.1f}s"
    turns = record.metrics.get("turn_count", "")
    route = f"{record.route}/{record.carrier}" if record.carrier else record.route
    end = record.end_reason or record.status
    return (
        f"{record.id}  {created}  {route:<20} {record.direction:<8} {duration:>8}  "
        f"{end:<22} {record.ended_by:<7} turns={turns}"
    )


def _run_list(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.limit <= 1000:
        print("omnivoice-rtc calls list: --limit must be between 1 and 1000", file=sys.stderr)
        return 2
    where = CallFilter(
        since=args.since,
        until=args.until,
        route=args.route or "",
        carrier=args.carrier,
        end_reason=args.end_reason,
        limit=args.limit,
    )

    async def work(ledger: CallLedger) -> int:
        full = bool(args.json and args.transcripts)
        records = await list_calls(ledger, where, with_transcripts=full)
        if args.json:
            print(json.dumps([r.to_dict(transcript=full) for r in records], indent=2))
        elif not records:
            print("no calls")
        else:
            for record in records:
                print(_line(record))
        return 0

    return _with_ledger(settings, "list", work)


def _show_text(record: CallRecord) -> list[str]:
    out = [
        f"call {record.id} ({record.route}{'/' + record.carrier if record.carrier else ''}, "
        f"{record.direction}, {record.status})",
        f"  from {record.caller or '-'} to {record.callee or '-'}",
        f"  room {record.room_name}  participant {record.participant_identity}",
        f"  created {record.created_at.isoformat(timespec='seconds')}  answered "
        f"{record.answered_at.isoformat(timespec='seconds') if record.answered_at else '-'}  ended "
        f"{record.ended_at.isoformat(timespec='seconds') if record.ended_at else '-'}",
        f"  ended: {record.end_reason or '-'} (by {record.ended_by or '-'})",
        "  metrics: " + ", ".join(f"{k}={v}" for k, v in record.metrics.items()),
        "  transcript:",
    ]
    for turn in record.turns:
        latency = f" total={turn.total_ms}ms" if turn.total_ms is not None else ""
        out.append(
            f"    [{turn.started_at.strftime('%H:%M:%S.%f')[:-3]}] {turn.role:>5}: "
            f"{turn.text}{latency}"
        )
    for event in record.events:
        out.append(f"    event {event.type} {json.dumps(event.data)}")
    return out


def _run_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(ledger: CallLedger) -> int:
        record = await get_call(ledger, args.id)
        if record is None:
            print(f"omnivoice-rtc calls show: no call {args.id!r}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(record.to_dict(), indent=2))
        else:
            print("\n".join(_show_text(record)))
        return 0

    return _with_ledger(settings, "show", work)


def _run_purge(args: argparse.Namespace, settings: Settings) -> int:
    days = settings.ledger.retention_days if args.older_than_days is None else args.older_than_days
    if days <= 0:
        print(
            "omnivoice-rtc calls purge: give --older-than-days N (> 0) or set "
            "OMNIVOICE_RETENTION_DAYS",
            file=sys.stderr,
        )
        return 2
    cutoff = utc_now() - timedelta(days=days)
    if not args.yes:
        if not sys.stdin.isatty():
            print("omnivoice-rtc calls purge: add --yes to delete without asking", file=sys.stderr)
            return 2
        answer = input(
            f"delete calls created before {cutoff.isoformat(timespec='seconds')}? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return 0

    async def work(ledger: CallLedger) -> int:
        counts = await purge_before(ledger, cutoff)
        print(
            f"deleted {counts.calls} call(s) created before {cutoff.isoformat(timespec='seconds')}"
        )
        return 0

    return _with_ledger(settings, "purge", work)
