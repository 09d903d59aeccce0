"""``omnivoice-rtc calls active|transfer|warm-transfer|hold|resume|dtmf|hangup``: live calls and call
control from the command line (registered under ``calls`` with
:func:`omnivoice_rtc.cli.calls.add_command`).

    omnivoice-rtc calls active [--json]
    omnivoice-rtc calls transfer CALL_ID TARGET [--say TEXT]   TARGET: +E.164 or sip:URI
    omnivoice-rtc calls warm-transfer CALL_ID TARGET --summary TEXT   (SIP calls)
    omnivoice-rtc calls hold CALL_ID
    omnivoice-rtc calls resume CALL_ID
    omnivoice-rtc calls dtmf CALL_ID DIGITS
    omnivoice-rtc calls hangup CALL_ID [--reason REASON]

``CALL_ID`` is a call's ``id`` from ``calls active`` (or its carrier call id, room or
participant). Everything goes through LiveKit with ``LIVEKIT_URL``/``LIVEKIT_API_KEY``/
``LIVEKIT_API_SECRET``: the live calls are listed from the server, and an action joins
the call's room as an operator (``omnivoice-operator-…``, kind agent, publishes
nothing but data) and runs :class:`~omnivoice_rtc.calls.control_client.RoomCallControl`,
the same code as the agent's tools: SIP through the server API, carrier calls through
the shim that owns them. The transfer line, hold and warm transfer are asked of the
agent on ``omnivoice.control`` (a warm transfer's outcome comes back in the agent's
``omnivoice.warm_transfer`` attribute; "not answered" exits 1).

Exit status: 0 done; 1 no such call, the route cannot (the reason is printed) or the
action failed; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

from livekit import api, rtc

from omnivoice_rtc._errors import (
    OmniVoiceError,
    ProviderError,
    SessionClosedError,
    UnsupportedActionError,
)
from omnivoice_rtc.calls.call_session import speak_timeout_s
from omnivoice_rtc.calls.control import (
    DEFAULT_HANGUP_REASON,
    check_digits,
    check_reason,
    parse_transfer_target,
)
from omnivoice_rtc.calls.control_client import RoomCallControl
from omnivoice_rtc.calls.control_wire import OPERATOR_IDENTITY_PREFIX
from omnivoice_rtc.calls.live_calls import LiveCall, active_calls, find_call
from omnivoice_rtc.calls.warm_transfer_status import await_warm_transfer
from omnivoice_rtc.cli.calls import add_command
from omnivoice_rtc.livekit.data_topics import (
    CONTROL_TOPIC,
    EVENTS_TOPIC,
    ControlCommand,
    decode_event_packet,
    encode_control,
)
from omnivoice_rtc.livekit.tokens import agent_token
from omnivoice_rtc.settings import Settings
from omnivoice_rtc.types import EventType

__all__ = ["register"]

Action = Callable[[RoomCallControl], Awaitable[None]]

MAX_SUMMARY_CHARS: Final = 1000
"""Longest ``warm-transfer --summary`` (characters; the agent refuses more than its
``OMNIVOICE_CONTROL_SAY_MAX_CHARS``)."""


def _livekit_api(settings: Settings) -> api.LiveKitAPI:
    lk = settings.livekit
    return api.LiveKitAPI(lk.url, lk.api_key, lk.api_secret)


def _print_table(calls: list[LiveCall]) -> None:
    if not calls:
        print("no live calls")
        return
    for c in calls:
        print(
            f"{c.id}  {c.route:<8} {c.direction:<8} {c.caller or '-'} -> {c.callee or '-'}  "
            f"room {c.room}  started {c.started.isoformat(timespec='seconds')}"
        )


def _run_active(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> list[LiveCall]:
        lk = _livekit_api(settings)
        try:
            return await active_calls(lk)
        finally:
            await lk.aclose()

    calls = asyncio.run(work())
    if args.json:
        print(json.dumps([c.to_dict() for c in calls], indent=2))
    else:
        _print_table(calls)
    return 0


class _Operator:
    """The operator's connection to one call's room and the agent hooks it offers."""

    def __init__(self, *, settings: Settings, call: LiveCall, lk: api.LiveKitAPI) -> None:
        self._settings = settings
        self._call = call
        self._lk = lk
        self.room = rtc.Room()
        self._speech_ended = asyncio.Event()

    async def __aenter__(self) -> _Operator:
        lk = self._settings.livekit
        identity = OPERATOR_IDENTITY_PREFIX + secrets.token_hex(4)
        token = agent_token(credentials=lk, room=self._call.room, identity=identity)
        self.room.on("data_received", self._on_data)
        await self.room.connect(lk.url, token, rtc.RoomOptions(auto_subscribe=False))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.room.disconnect()

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != EVENTS_TOPIC:
            return
        try:
            event, participant, _ = decode_event_packet(packet.data)
        except ValueError:
            return
        if participant == self._call.participant and event.type is EventType.AGENT_SPEECH_END:
            self._speech_ended.set()

    async def _command(self, command: ControlCommand) -> None:
        await self.room.local_participant.publish_data(
            encode_control(command), reliable=True, topic=CONTROL_TOPIC
        )

    async def speak(self, line: str) -> None:
        """The agent says ``line``; returns on its ``agent_speech_end`` (or after
        :func:`speak_timeout_s`)."""
        self._speech_ended.clear()
        await self._command(
            ControlCommand(type="speak", text=line, participant=self._call.participant)
        )
        try:
            async with asyncio.timeout(speak_timeout_s(line)):
                await self._speech_ended.wait()
        except TimeoutError:
            print("omnivoice-rtc calls: the agent's line was not confirmed", file=sys.stderr)

    async def hold(self, on: bool) -> None:
        command = ControlCommand(
            type="hold" if on else "resume", participant=self._call.participant
        )
        await self._command(command)

    async def warm_transfer(self, to: str, summary: str) -> bool:
        """Ask the agent on ``omnivoice.control``; its answer comes in its attribute."""
        command = ControlCommand(
            type="warm_transfer", text=summary, to=to, participant=self._call.participant
        )
        return await await_warm_transfer(
            self.room, caller=self._call.participant, send=lambda: self._command(command)
        )

    def control(self) -> RoomCallControl:
        return RoomCallControl(
            room=self.room,
            caller=self._call.participant,
            route=self._call.route,
            livekit_api=lambda: self._lk,
            speak=self.speak,
            hold=self.hold,
            warm_transfer=self.warm_transfer,
        )


def _act(settings: Settings, key: str, name: str, action: Action) -> int:
    async def work() -> int:
        lk = _livekit_api(settings)
        try:
            call = find_call(await active_calls(lk), key)
            if call is None:
                print(f"omnivoice-rtc calls {name}: no live call {key!r}", file=sys.stderr)
                return 1
            async with _Operator(settings=settings, call=call, lk=lk) as operator:
                control = operator.control()
                try:
                    await control.refresh_capabilities()
                    await action(control)
                finally:
                    control.close()
        finally:
            await lk.aclose()
        print(f"{name}: done ({call.route} call {call.id})")
        return 0

    try:
        return asyncio.run(work())
    except UnsupportedActionError as exc:
        print(f"omnivoice-rtc calls {name}: {exc}", file=sys.stderr)
        return 1
    except (OmniVoiceError, SessionClosedError, api.TwirpError, rtc.ConnectError) as exc:
        print(f"omnivoice-rtc calls {name}: failed: {exc}", file=sys.stderr)
        return 1


def _check_summary(text: str) -> None:
    if not text.strip():
        raise ValueError("summary must not be empty")
    if len(text) > MAX_SUMMARY_CHARS:
        raise ValueError(f"summary longer than {MAX_SUMMARY_CHARS} characters")


def _checked(check: Callable[[str], Any]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    return parse


def _run_transfer(args: argparse.Namespace, settings: Settings) -> int:
    return _act(settings, args.call_id, "transfer", lambda c: c.transfer(args.target, say=args.say))


def _run_warm_transfer(args: argparse.Namespace, settings: Settings) -> int:
    async def warm(control: RoomCallControl) -> None:
        if not await control.warm_transfer(args.target, args.summary):
            raise ProviderError("not answered; the agent is back with the caller")

    return _act(settings, args.call_id, "warm-transfer", warm)


def _run_hold(args: argparse.Namespace, settings: Settings) -> int:
    return _act(settings, args.call_id, "hold", lambda c: c.hold())


def _run_resume(args: argparse.Namespace, settings: Settings) -> int:
    return _act(settings, args.call_id, "resume", lambda c: c.resume())


def _run_dtmf(args: argparse.Namespace, settings: Settings) -> int:
    return _act(settings, args.call_id, "dtmf", lambda c: c.send_dtmf(args.digits))


def _run_hangup(args: argparse.Namespace, settings: Settings) -> int:
    return _act(settings, args.call_id, "hangup", lambda c: c.hangup(args.reason))


def register(calls: Any) -> None:
    """Add ``active``, ``transfer``, ``hold``, ``resume``, ``dtmf`` and ``hangup`` to the
    ``calls`` subparsers."""
    active = calls.add_parser("active", help="list live phone calls (from LiveKit)")
    active.add_argument("--json", action="store_true", help="print JSON")
    active.set_defaults(handler=_run_active)

    transfer = calls.add_parser("transfer", help="cold-transfer a live call")
    transfer.add_argument("call_id", metavar="CALL_ID")
    transfer.add_argument(
        "target", metavar="TARGET", type=_checked(parse_transfer_target), help="+E.164 or sip:URI"
    )
    transfer.add_argument(
        "--say", default=None, help="what the agent says first ('' for nothing; default line)"
    )
    transfer.set_defaults(handler=_run_transfer)

    warm = calls.add_parser(
        "warm-transfer",
        help="the agent dials a person, briefs them, then connects the caller (SIP calls)",
    )
    warm.add_argument("call_id", metavar="CALL_ID")
    warm.add_argument(
        "target", metavar="TARGET", type=_checked(parse_transfer_target), help="+E.164 or sip:URI"
    )
    warm.add_argument(
        "--summary",
        required=True,
        type=_checked(_check_summary),
        help="what the agent tells the person before connecting the caller",
    )
    warm.set_defaults(handler=_run_warm_transfer)

    for name, run, what in (
        ("hold", _run_hold, "put a live call on hold (hold audio)"),
        ("resume", _run_resume, "take a live call off hold"),
    ):
        sub = calls.add_parser(name, help=what)
        sub.add_argument("call_id", metavar="CALL_ID")
        sub.set_defaults(handler=run)

    dtmf = calls.add_parser("dtmf", help="send DTMF digits on a live call")
    dtmf.add_argument("call_id", metavar="CALL_ID")
    dtmf.add_argument("digits", metavar="DIGITS", type=_checked(check_digits))
    dtmf.set_defaults(handler=_run_dtmf)

    hangup = calls.add_parser("hangup", help="hang up a live call")
    hangup.add_argument("call_id", metavar="CALL_ID")
    hangup.add_argument(
        "--reason", default=DEFAULT_HANGUP_REASON, type=_checked(check_reason), help="end reason"
    )
    hangup.set_defaults(handler=_run_hangup)


add_command(register)
