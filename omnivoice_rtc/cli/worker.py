"""``omnivoice-rtc worker``: run the agent worker (livekit-agents' modes).

    omnivoice-rtc worker dev     [--agent myapp.agent:build] [--config agent.yaml]
    omnivoice-rtc worker start   [--agent ...] [--config ...] [--log-level info]
    omnivoice-rtc worker console [--agent ...]        # talk to your agent in this terminal

``--agent`` names your factory ``build(ctx) -> Agent | AgentSpec`` (default:
``OMNIVOICE_AGENT``; unset: the built-in agent); ``--config`` a seed ``Config`` file whose
fields are every call's defaults (default: ``OMNIVOICE_AGENT_CONFIG``). LiveKit and
everything else come from the environment (docs/settings.md). A bad ``--agent`` or
``--config`` stops the command with status 2 and a message naming the module and the
attribute (or the file) before anything connects. ``omnivoice_rtc.cli`` calls
:func:`add_parser`.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from typing import Any

from omnivoice_rtc.settings import Settings
from omnivoice_rtc.settings.agent_app import check_factory_reference

__all__ = ["add_parser"]

_LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "critical")


def _reference(text: str) -> str:
    try:
        return check_factory_reference("--agent", text)
    except ValueError as exc:  # ConfigError is a ValueError: argparse reports it, status 2
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--agent: ")) from None


def add_parser(subparsers: Any) -> None:
    """Add the ``worker`` command to ``subparsers``."""
    worker = subparsers.add_parser(
        "worker",
        help="run the agent worker (dev, start or console) with your agent",
        description="Run the agent worker: a livekit-agents AgentServer that serves every "
        "room it is dispatched to (browser rooms, SIP calls, carrier calls) with your agent.",
    )
    worker.add_argument(
        "mode",
        choices=("dev", "start", "console"),
        help="dev: debug logs; start: production; console: talk to the agent in this terminal",
    )
    worker.add_argument(
        "--agent",
        type=_reference,
        metavar="MODULE:ATTR",
        help="your agent factory, e.g. myapp.agent:build (default: OMNIVOICE_AGENT)",
    )
    worker.add_argument(
        "--config",
        metavar="FILE",
        help="a seed Config (JSON or YAML): defaults of every call (OMNIVOICE_AGENT_CONFIG)",
    )
    worker.add_argument(
        "--log-level", choices=_LOG_LEVELS, type=str.lower, help="livekit-agents' log level"
    )
    worker.set_defaults(handler=_run_worker)


def _run_worker(args: argparse.Namespace, settings: Settings) -> int:
    from omnivoice_rtc.agent.worker_server import run_worker

    settings.require_safe("worker")
    app = settings.agent_app
    if args.agent:
        app = replace(app, factory=args.agent)
    if args.config:
        app = replace(app, config_file=args.config)
    root = logging.getLogger()  # livekit-agents installs its own handler: drop ours
    for handler in [h for h in root.handlers if getattr(h, "_omnivoice", False)]:
        root.removeHandler(handler)
    extra = ("--log-level", args.log_level) if args.log_level else ()
    run_worker(settings, args.mode, app=app, extra_args=extra)
    return 0
