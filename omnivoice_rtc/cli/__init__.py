"""The ``omnivoice-rtc`` command.

    omnivoice-rtc dev [--livekit-port P] [--web-port P] [--no-agent] [--no-web] [--no-sip]
                      [--livekit-nodes N] [--web-replicas M]
    omnivoice-rtc token ROOM IDENTITY [--name NAME] [--ttl-s S] [--no-agent]
    omnivoice-rtc sip ...            (when omnivoice_rtc.cli.sip is present)
    omnivoice-rtc call NUMBER --via ROUTE [--agent module:build]   (docs/cli.md)
    omnivoice-rtc simulate ROUTE [--wav FILE] [--dtmf DIGITS]      (docs/cli.md)
    omnivoice-rtc calls list|show|purge   the call ledger (omnivoice_rtc.cli.calls)
    omnivoice-rtc calls active|transfer|hold|resume|dtmf|hangup   live calls
                                          (omnivoice_rtc.cli.call_control)
    omnivoice-rtc worker dev|start|console [--agent MODULE:ATTR] [--config FILE]

Exit status: 0 on success or Ctrl-C, 1 when a stack process fails (the message
names it and shows its last log lines), 2 on bad configuration or arguments; ``call``
and ``simulate`` add their own (docs/cli.md).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from types import FrameType
from typing import Any, NoReturn

from omnivoice_rtc._errors import ConfigError, StackError
from omnivoice_rtc.cli import call as call_command
from omnivoice_rtc.cli import simulate as simulate_command
from omnivoice_rtc.cli.worker import add_parser as add_worker_parser
from omnivoice_rtc.livekit.process_exit import exit_process
from omnivoice_rtc.livekit.tokens import generate_client_token
from omnivoice_rtc.logs import configure_logging
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.stack import Supervisor, stdout_sink
from omnivoice_rtc.stack.dev import DevOptions, DevPlan, build_dev_plan

__all__ = ["build_parser", "main"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer port, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {value}")
    return value


def _add_dev(subparsers: Any) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="start the local stack (livekit-server, agent, web, SIP); Ctrl-C stops it",
        description="Start the local stack and print its URLs. Ctrl-C stops everything.",
    )
    dev.add_argument("--livekit-port", type=_port, help="HTTP/WebSocket port (default 7880)")
    dev.add_argument("--rtc-tcp-port", type=_port, default=7881, help="ICE-TCP port (7881)")
    dev.add_argument("--rtc-udp-port", type=_port, default=7882, help="WebRTC UDP port (7882)")
    dev.add_argument("--web-port", type=_port, help="web server port (OMNIVOICE_WEB_PORT, 8080)")
    dev.add_argument("--no-agent", action="store_true", help="do not start the agent worker")
    dev.add_argument("--no-web", action="store_true", help="do not start the web server")
    dev.add_argument("--no-sip", action="store_true", help="do not start redis and livekit-sip")
    dev.add_argument(
        "--livekit-nodes",
        type=int,
        default=1,
        help="livekit-server nodes sharing one Redis, a worker each (default 1; docs/scaling.md)",
    )
    dev.add_argument(
        "--web-replicas",
        type=int,
        default=1,
        help="web/shim replicas behind HAProxy on the web port (default 1; docs/scaling.md)",
    )
    dev.set_defaults(handler=_run_dev)


def _add_token(subparsers: Any) -> None:
    token = subparsers.add_parser(
        "token",
        help="print a client token for ROOM and IDENTITY",
        description="Print a room-scoped client token (microphone publish, subscribe, data).",
    )
    token.add_argument("room")
    token.add_argument("identity")
    token.add_argument("--name", default="", help="display name")
    token.add_argument(
        "--ttl-s", type=int, default=None, help="lifetime in s (OMNIVOICE_TOKEN_TTL_S, 900)"
    )
    token.add_argument(
        "--no-agent", action="store_true", help="do not dispatch the agent to the room"
    )
    token.set_defaults(handler=_run_token)


def _add_sip(subparsers: Any) -> None:
    if importlib.util.find_spec("omnivoice_rtc.sip") is None:
        return
    if importlib.util.find_spec("omnivoice_rtc.cli.sip") is None:
        return
    module = importlib.import_module("omnivoice_rtc.cli.sip")
    add_parser: Callable[[Any], None] = module.add_parser
    add_parser(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omnivoice-rtc",
        description="Voice agents on LiveKit rooms, carrier media streams and SIP trunks.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_dev(subparsers)
    _add_token(subparsers)
    _add_sip(subparsers)
    call_command.add_parser(subparsers)
    simulate_command.add_parser(subparsers)
    importlib.import_module("omnivoice_rtc.cli.call_control")  # calls active/transfer/...
    importlib.import_module("omnivoice_rtc.cli.calls").add_parser(subparsers)
    add_worker_parser(subparsers)
    return parser


def _run_token(args: argparse.Namespace, settings: Settings) -> int:
    ttl_s = settings.tokens.ttl_s if args.ttl_s is None else args.ttl_s
    try:
        token = generate_client_token(
            args.room,
            args.identity,
            args.name,
            ttl=timedelta(seconds=ttl_s),
            agent_name=None if args.no_agent else settings.agent_name,
            credentials=settings.livekit,
        )
    except ValueError as exc:
        print(f"omnivoice-rtc token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


def _banner(plan: DevPlan) -> list[str]:
    width = max((len(label) for label in plan.urls), default=0) + 1
    lines = ["omnivoice-rtc dev: stack is up"]
    lines += [f"  {label + ':':<{width}} {url}" for label, url in plan.urls.items()]
    lines += [f"  note: {note}" for note in plan.notes]
    lines.append("Press Ctrl-C to stop.")
    return lines


def _run_dev(args: argparse.Namespace, settings: Settings) -> int:
    options = DevOptions(
        livekit_port=args.livekit_port,
        rtc_tcp_port=args.rtc_tcp_port,
        rtc_udp_port=args.rtc_udp_port,
        web_port=args.web_port,
        agent=not args.no_agent,
        web=not args.no_web,
        sip=not args.no_sip,
        livekit_nodes=args.livekit_nodes,
        web_replicas=args.web_replicas,
    )
    if options.web:
        settings.require_safe("web")
    plan = build_dev_plan(settings, options)
    supervisor = Supervisor(plan.specs, log_sink=stdout_sink, base_env=settings.env)
    stop = threading.Event()
    started = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if started:
            stop.set()
        else:  # interrupt start-up; Supervisor.start stops what it started
            raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, on_signal) for signum in _STOP_SIGNALS}
    try:
        supervisor.start()
        started = True
        for line in _banner(plan):
            stdout_sink(line)
        failure = supervisor.watch(stop)
        stdout_sink("omnivoice-rtc dev: stopping")
        supervisor.stop()
        if failure is not None:
            raise failure
        stdout_sink("omnivoice-rtc dev: stopped")
        return 0
    except KeyboardInterrupt:  # a signal during start-up (Supervisor.start cleaned up)
        stdout_sink("omnivoice-rtc dev: interrupted during start-up; stopped")
        return 0
    finally:
        supervisor.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``omnivoice-rtc``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log)
        handler: Callable[[argparse.Namespace, Settings], int] = args.handler
        return handler(args, settings)
    except ConfigError as exc:
        print(f"omnivoice-rtc: configuration error: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"omnivoice-rtc: {exc}", file=sys.stderr)
        return 1


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``omnivoice-rtc`` console script (and ``python -m omnivoice_rtc.cli``):
    :func:`main`, then exit with its status.

    A command that joined a LiveKit room in this process (``simulate``, ``call``) has
    printed and closed everything when :func:`main` returns; it leaves without livekit
    rtc's exit-time teardown, which could abort it (:mod:`omnivoice_rtc.livekit.process_exit`).
    Other commands exit normally."""
    exit_process(main(argv))


if __name__ == "__main__":
    run()
