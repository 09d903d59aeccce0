"""The call history: ``/calls`` and ``/calls/<id>`` (a page) over ``/api/calls`` (JSON).

=========================  ========================================================
``GET /calls``             the page (``static/calls.html``): a filterable list
``GET /calls/{id}``        the same page showing one call: who, when, how it ended,
                           the transcript with timings, a per-turn latency chart
``GET /api/calls``         ``{"calls": [record, ...]}`` newest first; query: ``route``,
                           ``carrier``, ``end_reason``, ``status``, ``since``/``until``
                           (ISO 8601 date or time, UTC if no zone; a date ``until``
                           includes that day), ``limit`` (1-1000)
``GET /api/calls/{id}``    one record with transcript and events (any id the ledger
                           knows: record, carrier call, SIP call, room)
=========================  ========================================================

With ``OMNIVOICE_TOKEN_KEY`` set the JSON (the data) needs the key like ``/api/token``
(``Authorization: Bearer <key>`` or ``X-Omnivoice-Key``); the page asks for it and
keeps it for the tab. 503 when the ledger is off.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from aiohttp import web

from omnivoice_rtc.ledger.queries import MAX_LIST, CallFilter, get_call, list_calls
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.web.keys import LEDGER_KEY, SETTINGS_KEY

__all__ = [
    "CALLS_CSP",
    "authorized",
    "handle_call",
    "handle_calls",
    "handle_calls_page",
    "parse_time",
    "unauthorized",
]

_STATIC: Final = Path(__file__).resolve().parent / "static"
CALLS_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_KEY_HEADER: Final = "X-Omnivoice-Key"


def authorized(request: web.Request, key: str) -> bool:
    """True when no key is configured, or the request presents it (constant time)."""
    if not key:
        return True
    presented = request.headers.get(_KEY_HEADER, "").strip()
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        presented = credential.strip()
    return bool(presented) and hmac.compare_digest(presented.encode(), key.encode())


def unauthorized() -> web.Response:
    return web.json_response(
        {"error": "a valid key is required (Authorization: Bearer <key>)"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="omnivoice"', "Cache-Control": "no-store"},
    )


def parse_time(name: str, raw: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when it has no zone); ValueError naming ``name``."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: expected an ISO 8601 date or time, got {raw!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _filter(query: dict[str, str]) -> CallFilter:
    try:
        limit = int(query.get("limit", "100"))
    except ValueError:
        raise ValueError(f"limit: expected an integer, got {query['limit']!r}") from None
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"limit: must be between 1 and {MAX_LIST}")
    until = parse_time("until", query["until"]) if query.get("until") else None
    if until is not None and len(query["until"].strip()) == len("2026-01-01"):
        until += timedelta(days=1)  # a date: up to the end of that day
    return CallFilter(
        since=parse_time("since", query["since"]) if query.get("since") else None,
        until=until,
        route=query.get("route", ""),
        carrier=query.get("carrier", ""),
        end_reason=query.get("end_reason", ""),
        status=query.get("status", ""),
        limit=limit,
    )


def _ready(request: web.Request) -> LedgerService | web.Response:
    if not authorized(request, request.app[SETTINGS_KEY].tokens.key):
        return unauthorized()
    service = request.app[LEDGER_KEY]
    if service.ledger is None:
        return web.json_response(
            {"error": "the call ledger is off (OMNIVOICE_DATABASE_URL=off)"}, status=503
        )
    return service


async def handle_calls(request: web.Request) -> web.Response:
    """``GET /api/calls``."""
    service = _ready(request)
    if isinstance(service, web.Response):
        return service
    try:
        where = _filter(dict(request.query))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    assert service.ledger is not None  # reason: checked by _ready
    records = await list_calls(service.ledger, where)
    return web.json_response(
        {"calls": [r.to_dict(transcript=False) for r in records]},
        headers={"Cache-Control": "no-store"},
    )


async def handle_call(request: web.Request) -> web.Response:
    """``GET /api/calls/{id}``."""
    service = _ready(request)
    if isinstance(service, web.Response):
        return service
    assert service.ledger is not None  # reason: checked by _ready
    record = await get_call(service.ledger, request.match_info["id"])
    if record is None:
        return web.json_response({"error": "no such call"}, status=404)
    return web.json_response(record.to_dict(), headers={"Cache-Control": "no-store"})


async def handle_calls_page(request: web.Request) -> web.StreamResponse:
    """``GET /calls`` and ``/calls/{id}``: the page; its script loads the data."""
    return web.FileResponse(
        _STATIC / "calls.html",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CALLS_CSP,
            "X-Frame-Options": "DENY",
        },
    )
