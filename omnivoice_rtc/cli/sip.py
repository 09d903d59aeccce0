"""``omnivoice-rtc sip``: provision SIP trunks and dispatch rules.

    omnivoice-rtc sip apply FILE      create or update, print created/updated/unchanged
    omnivoice-rtc sip list            every trunk and dispatch rule on the server
    omnivoice-rtc sip delete NAME     delete the objects named NAME
    omnivoice-rtc sip delete --all    delete every trunk and dispatch rule

Exit status: 0 on success, 1 when the server refuses or cannot be reached, 2 on a
malformed file or bad arguments. ``omnivoice_rtc.cli`` calls :func:`add_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from livekit import api

from omnivoice_rtc.settings import Settings
from omnivoice_rtc.sip.provisioning import ProvisioningError, apply, delete, list_objects

__all__ = ["add_parser"]


def add_parser(subparsers: Any) -> None:
    """Add the ``sip`` command (with apply / list / delete) to ``subparsers``."""
    sip = subparsers.add_parser(
        "sip",
        help="provision SIP trunks and dispatch rules (sip/<carrier>.json)",
        description="Provision LiveKit SIP trunks and dispatch rules on LIVEKIT_URL.",
    )
    commands = sip.add_subparsers(dest="sip_command", required=True, metavar="SIP_COMMAND")

    apply_parser = commands.add_parser(
        "apply", help="create or update the trunks and rule of FILE (matched by name)"
    )
    apply_parser.add_argument("file", help="e.g. sip/twilio.json")
    apply_parser.set_defaults(handler=_run_apply)

    list_parser = commands.add_parser("list", help="list every trunk and dispatch rule")
    list_parser.set_defaults(handler=_run_list)

    delete_parser = commands.add_parser("delete", help="delete objects by name, or --all")
    target = delete_parser.add_mutually_exclusive_group(required=True)
    target.add_argument("name", nargs="?", help="trunk or dispatch rule name")
    target.add_argument("--all", action="store_true", help="every trunk and dispatch rule")
    delete_parser.set_defaults(handler=_run_delete)


def _run(what: str, work: Callable[[], Coroutine[Any, Any, list[str]]]) -> int:
    try:
        lines = asyncio.run(work())
    except ProvisioningError as exc:
        print(f"omnivoice-rtc sip {what}: {exc}", file=sys.stderr)
        return 1
    except api.TwirpError as exc:
        print(f"omnivoice-rtc sip {what}: server error {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except aiohttp.ClientError as exc:
        print(f"omnivoice-rtc sip {what}: cannot reach the server: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"omnivoice-rtc sip {what}: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


def _run_apply(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[str]:
        async with _server_api(settings) as client:
            results = await apply(args.file, client=client)
        return [result.describe() for result in results]

    return _run("apply", work)


def _run_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[str]:
        async with _server_api(settings) as client:
            objects = await list_objects(client=client)
        return [obj.describe() for obj in objects] or ["no trunks or dispatch rules"]

    return _run("list", work)


def _run_delete(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[str]:
        async with _server_api(settings) as client:
            results = await delete(None if args.all else args.name, client=client)
        return [result.describe() for result in results] or ["nothing to delete"]

    return _run("delete", work)


@asynccontextmanager
async def _server_api(settings: Settings) -> AsyncIterator[api.LiveKitAPI]:
    """A server API client for ``settings.livekit``, closed on exit."""
    client = api.LiveKitAPI(
        url=settings.livekit.http_url,
        api_key=settings.livekit.api_key,
        api_secret=settings.livekit.api_secret,
    )
    try:
        yield client
    finally:
        await client.aclose()
