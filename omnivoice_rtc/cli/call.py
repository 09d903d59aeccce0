"""``omnivoice-rtc call NUMBER --via ROUTE [--agent module:build]``: an outbound call.

Routes and who dials:

* a carrier (``twilio``, ``telnyx``, ``vonage``, ``plivo``, ``exotel``): the running web
  server dials (``POST /api/calls``, :mod:`omnivoice_rtc.web.calls_api`, with
  ``OMNIVOICE_TOKEN_KEY``), because the carrier connects back to it and the call's stream
  token lives there; this command waits for its answer;
* ``sip``: this process dials through the outbound trunk (``CreateSIPParticipant`` on
  LiveKit, :class:`~omnivoice_rtc.sip.sip_gateway.SIPGateway`); nothing connects back.

``--agent module:build`` runs that agent factory for this call only: a private agent
worker is started under a fresh agent name (``OMNIVOICE_AGENT`` set for it), the call's
room gets that agent, and the command stays until the call ends, printing the
conversation. Without it the stack's agent serves the call; ``--wait`` follows it too.

Result line and exit status:

==========  ======  =============================================================
outcome     status  meaning
==========  ======  =============================================================
answered    0       the callee answered (with ``--wait``/``--agent``: and hung up)
busy        3       SIP 486/600
no answer   4       SIP 408/480/487, or no media stream within ``--ring-timeout-s``
failed      5       the carrier's REST API or SIP refused (its status and code shown)
==========  ======  =============================================================

1: the web server, LiveKit or the private worker could not be reached or started;
2: bad arguments or configuration (the message names the setting).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from livekit import api

from omnivoice_rtc._errors import ConfigError, SIPCallError, StackError
from omnivoice_rtc.carriers.registry import carrier_names
from omnivoice_rtc.livekit.rooms import lease_room_control
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.simulate.observer import CallObserver
from omnivoice_rtc.sip.sip_gateway import SIPGateway, SIPGatewayOptions
from omnivoice_rtc.sip.sip_session import SIPSession
from omnivoice_rtc.stack import PROJECT_ROOT, LogCheck, ProcessSpec, Supervisor
from omnivoice_rtc.types import AgentTranscript, Event, EventType, UserTranscript

__all__ = [
    "EXIT_BY_OUTCOME",
    "CallResult",
    "add_parser",
    "check_agent_reference",
    "outcome_of_sip_status",
    "run_call",
]

EXIT_BY_OUTCOME: Final = {"answered": 0, "busy": 3, "no_answer": 4, "failed": 5}
"""Exit status of each outcome (1 and 2 are the CLI's own errors)."""
_BUSY_CODES: Final = frozenset({486, 600})
_NO_ANSWER_CODES: Final = frozenset({408, 480, 487})
_WORKER_LOG_LINES: Final = 20
_REPORT_WAIT_S: Final = 5.0
"""How long (s) a followed call waits, once the callee left, for the agent's final report."""


@dataclass(slots=True, kw_only=True)
class CallResult:
    """How an outbound call went: ``outcome`` is a key of :data:`EXIT_BY_OUTCOME`;
    ``status``/``code``: the carrier's HTTP status and error code, or the SIP status code
    and reason; ``waited_s``: dial to answer (s)."""

    outcome: str
    via: str
    to: str
    call_id: str = ""
    room: str = ""
    participant: str = ""
    status: int = 0
    code: str = ""
    detail: str = ""
    waited_s: float = 0.0
    conversation: list[tuple[str, str]] = field(default_factory=list)

    def line(self) -> str:
        """The one-line result the command prints."""
        word = self.outcome.replace("_", " ")
        head = f"{word}: {self.to} via {self.via}"
        if self.outcome == "answered":
            return f"{head} after {self.waited_s:.1f} s (call {self.call_id}, room {self.room})"
        if self.via == "sip" and self.status:
            return f"{head} (SIP {self.status} {self.code})"
        if self.outcome == "failed" and self.via != "sip":
            code = f", code {self.code}" if self.code else ""
            return f"{head} ({self.via} HTTP {self.status}{code}: {self.detail})"
        return f"{head} ({self.detail})" if self.detail else head


def outcome_of_sip_status(code: int) -> str:
    """``busy``, ``no_answer`` or ``failed`` for a failed call's SIP status code."""
    if code in _BUSY_CODES:
        return "busy"
    if code in _NO_ANSWER_CODES:
        return "no_answer"
    return "failed"


def check_agent_reference(reference: str) -> None:
    """ConfigError naming ``--agent`` unless ``reference`` is ``module:attribute`` and
    the module imports (from the current directory too) and has a callable attribute."""
    module_name, sep, attribute = reference.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"--agent: expected 'package.module:function', got {reference!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"--agent: cannot import module {module_name!r}: {exc}") from exc
    if not callable(getattr(module, attribute, None)):
        raise ConfigError(f"--agent: module {module_name!r} has no callable {attribute!r}")


# ---------------------------------------------------------------------- private worker


def _worker_spec(settings: Settings, reference: str, agent_name: str) -> ProcessSpec:
    """An agent worker that runs ``reference`` under ``agent_name`` (``start`` mode)."""
    if importlib.util.find_spec("omnivoice_rtc.cli.worker") is not None:
        argv: tuple[str, ...] = (sys.executable, "-m", "omnivoice_rtc.cli", "worker", "start")
        argv += ("--agent", reference)
    else:
        argv = (sys.executable, str(PROJECT_ROOT / "agents" / "worker.py"), "start")
    python_path = os.pathsep.join(p for p in (os.getcwd(), settings.env.get("PYTHONPATH")) if p)
    return ProcessSpec(
        name="call-agent",
        argv=argv,
        env={
            "OMNIVOICE_AGENT": reference,
            "OMNIVOICE_AGENT_NAME": agent_name,
            "OMNIVOICE_WORKER_HTTP_PORT": "0",
            "OMNIVOICE_WORKER_LOAD_THRESHOLD": "100",
            "PYTHONPATH": python_path,
            "PYTHONUNBUFFERED": "1",
        },
        cwd=os.getcwd(),
        health=LogCheck(pattern=r"registered worker"),
        start_timeout_s=120.0,
        stop_timeout_s=10.0,
    )


@contextlib.contextmanager
def _private_worker(settings: Settings, reference: str | None, quiet: bool) -> Iterator[str]:
    """Yield the agent name to dispatch: a private worker's for ``reference``, else the
    stack's (``OMNIVOICE_AGENT_NAME``)."""
    if not reference:
        yield settings.agent_name
        return
    agent_name = f"omnivoice-call-{secrets.token_hex(4)}"
    lines: list[str] = []

    def sink(line: str) -> None:
        lines.append(line)
        del lines[:-_WORKER_LOG_LINES]
        if not quiet:
            print(line, file=sys.stderr)

    supervisor = Supervisor(
        [_worker_spec(settings, reference, agent_name)], log_sink=sink, base_env=settings.env
    )
    supervisor.start()  # StackError with its last log lines when it does not register
    try:
        yield agent_name
    finally:
        supervisor.stop()


# ---------------------------------------------------------------------- routes


async def _call_carrier(
    args: argparse.Namespace, settings: Settings, agent_name: str
) -> CallResult:
    server = (args.server or settings.web.local_url).rstrip("/")
    if not settings.tokens.key:
        raise ConfigError(
            "OMNIVOICE_TOKEN_KEY: required to ask the web server to place a carrier call "
            "(the same key the web server has)"
        )
    body: dict[str, Any] = {"to": args.to, "via": args.via, "ring_timeout_s": args.ring_timeout_s}
    if agent_name != settings.agent_name:
        body["agent_name"] = agent_name
    timeout = aiohttp.ClientTimeout(total=args.ring_timeout_s + 30)
    headers = {"Authorization": f"Bearer {settings.tokens.key}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(f"{server}/api/calls", json=body, headers=headers) as response,
        ):
            reply = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise StackError(
            f"the web server at {server} did not answer POST /api/calls ({exc!r}); is "
            "`omnivoice-rtc dev` running with the carrier configured?"
        ) from exc
    if status == 503 or status in (401, 403):
        raise ConfigError(f"web server: {reply.get('error', status)}")
    if status != 200 or not isinstance(reply, dict):
        raise StackError(f"web server: HTTP {status}: {reply}")
    return CallResult(
        outcome=str(reply["outcome"]),
        via=args.via,
        to=args.to,
        call_id=str(reply.get("call_id", "")),
        room=str(reply.get("room", "")),
        participant=str(reply.get("participant", "")),
        status=int(reply.get("status", 0) or 0),
        code=str(reply.get("code", "") or ""),
        detail=str(reply.get("detail", "")),
        waited_s=float(reply.get("waited_s", 0.0)),
    )


async def _outbound_trunk(settings: Settings, name: str | None) -> str:
    """``--trunk``, else the one outbound trunk LiveKit has (ConfigError otherwise)."""
    if name:
        return name
    lease = lease_room_control(settings.livekit)
    try:
        listed = await lease.rooms.api.sip.list_outbound_trunk(api.ListSIPOutboundTrunkRequest())
    finally:
        await lease.aclose()
    names = [trunk.name or trunk.sip_trunk_id for trunk in listed.items]
    if len(names) != 1:
        raise ConfigError(
            f"--trunk: LiveKit has {len(names)} outbound trunks ({', '.join(names) or 'none'}); "
            "name one (`omnivoice-rtc sip apply` creates them)"
        )
    return names[0]


async def _call_sip(
    args: argparse.Namespace, settings: Settings, agent_name: str, follow: bool
) -> CallResult:
    options = SIPGatewayOptions(
        outbound_trunk=await _outbound_trunk(settings, args.trunk),
        agent_name=agent_name,
        ringing_timeout_s=args.ring_timeout_s,
        outbound=settings.limits.outbound,  # OMNIVOICE_OUTBOUND_ALLOW and its rates
    )
    gateway = SIPGateway(livekit=settings.livekit, options=options)
    await gateway.start()
    started = time.monotonic()
    try:
        try:
            session = await gateway.make_call(args.to)
        except SIPCallError as exc:
            return CallResult(
                outcome=outcome_of_sip_status(exc.sip_status_code),
                via="sip",
                to=args.to,
                status=exc.sip_status_code,
                code=exc.sip_status,
                detail=str(exc),
            )
        if not isinstance(session, SIPSession):
            raise StackError("SIPGateway.make_call returned no SIP session")
        result = CallResult(
            outcome="answered",
            via="sip",
            to=args.to,
            call_id=session.id,
            room=session.room_name,
            participant=session.identity,
            waited_s=time.monotonic() - started,
        )
        print(result.line(), flush=True)
        if follow:
            await _follow_sip(session, result, args.max_duration_s)
        return result
    finally:
        await gateway.stop()


def _line_of(event: Event) -> tuple[str, str] | None:
    data = event.data
    if isinstance(data, UserTranscript) and data.final and data.text.strip():
        return "callee", data.text.strip()
    if isinstance(data, AgentTranscript) and data.text.strip():
        return "agent", data.text.strip()
    return None


async def _follow_sip(session: SIPSession, result: CallResult, max_s: float) -> None:
    async def read() -> None:
        async for event in session.events():
            line = _line_of(event)
            if line is not None:
                result.conversation.append(line)
                print(f"  {line[0]}: {line[1]}", flush=True)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), max_s)
    if not session.closed:
        await session.close()


async def _follow_room(settings: Settings, result: CallResult, max_s: float) -> None:
    """Print the carrier call's conversation from its room until the call ends."""
    observer = CallObserver(livekit=settings.livekit, room=result.room, caller=result.participant)
    await observer.start()
    printed = 0
    deadline = time.monotonic() + max_s
    try:
        while not observer.ended.is_set() and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(observer.ended.wait(), 0.2)
            lines = [
                ("callee" if who == "caller" else who, text) for who, text in observer.transcript()
            ]
            for who, text in lines[printed:]:
                result.conversation.append((who, text))
                print(f"  {who}: {text}", flush=True)
            printed = len(lines)
        # the caller left: the agent's final report (its whole transcript) follows shortly
        with contextlib.suppress(TimeoutError):
            await observer.wait_for(EventType.SESSION_ENDED, timeout_s=_REPORT_WAIT_S)
        final = [
            ("callee" if who == "caller" else who, text) for who, text in observer.transcript()
        ]
        if len(final) > printed:  # lines sent before the observer joined (the greeting)
            shown = list(result.conversation)
            for line in final:
                if line in shown:
                    shown.remove(line)
                else:
                    print(f"  {line[0]}: {line[1]}", flush=True)
            result.conversation[:] = final
    finally:
        await observer.aclose()


async def run_call(args: argparse.Namespace, settings: Settings) -> CallResult:
    """Place the call ``args`` describe and return how it went (the command's core)."""
    if args.agent:
        check_agent_reference(args.agent)
    follow = bool(args.agent or args.wait)
    quiet = not args.verbose
    with _private_worker(settings, args.agent, quiet) as agent_name:
        if args.via == "sip":
            return await _call_sip(args, settings, agent_name, follow)
        result = await _call_carrier(args, settings, agent_name)
        if result.outcome == "answered":
            print(result.line(), flush=True)
            if follow:
                await _follow_room(settings, result, args.max_duration_s)
        return result


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not args.to.lstrip("+").isdigit() and args.via != "sip":
        raise ConfigError(f"NUMBER: must be a phone number (digits, optional +), got {args.to!r}")
    result = asyncio.run(run_call(args, settings))
    if result.outcome != "answered":
        print(result.line(), flush=True)
    elif args.agent or args.wait:
        print(f"call ended ({len(result.conversation)} transcript lines)", flush=True)
    return EXIT_BY_OUTCOME.get(result.outcome, 5)


def _positive_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 1 <= value <= 300:
        raise argparse.ArgumentTypeError(f"must be between 1 and 300 s, got {value:g}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``call`` on the ``omnivoice-rtc`` subcommands."""
    routes = (*carrier_names(), "sip")
    call = subparsers.add_parser(
        "call",
        help="place an outbound call (carrier via the web server, or SIP)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    call.add_argument("to", metavar="NUMBER", help="who to call (E.164, e.g. +15550100)")
    call.add_argument("--via", required=True, choices=routes, help="carrier or sip")
    call.add_argument(
        "--agent",
        metavar="MODULE:FUNCTION",
        help="run this agent factory for the call (a private worker); waits for the end",
    )
    call.add_argument("--wait", action="store_true", help="print the conversation until hang-up")
    call.add_argument(
        "--ring-timeout-s", type=_positive_s, default=60.0, help="how long it may ring (s, 60)"
    )
    call.add_argument(
        "--max-duration-s",
        type=float,
        default=600.0,
        help="stop following the call after this long (s, 600)",
    )
    call.add_argument(
        "--server", help="web server base URL for carrier calls (default OMNIVOICE_WEB_HOST/PORT)"
    )
    call.add_argument("--trunk", help="SIP outbound trunk name or id (default: the only one)")
    call.add_argument("--verbose", action="store_true", help="show the private worker's log")
    call.set_defaults(handler=_run)
