"""Call control as LLM tools: a ready-made tool set for your agent factory.

::

    from omnivoice_rtc.agent.call_tools import call_control_tools

    def build(ctx: CallContext) -> AgentSpec:
        return AgentSpec(
            instructions="... Transfer to sales when the caller wants to buy.",
            tools=call_control_tools(ctx, transfer_targets={"sales": "+15550100"}),
        )

The tools (each only on a phone call; a browser call gets none):

``transfer_call(destination)``
    cold transfer to one of ``transfer_targets`` (by name), or to any E.164 number or SIP
    URI the model gives when ``allow_any_target`` is set; the agent first says
    ``transfer_line``.
``hold_call(seconds)``
    the caller hears hold audio for up to ``seconds`` (at most ``max_hold_s``), then the
    agent says ``resume_line`` and listens again.
``send_dtmf(digits)``
    keys digits on the line (IVR menus): RFC 4733 on SIP, in-band tones on carriers.
``end_call(reason)``
    says ``goodbye`` and hangs up; ``reason`` (a short word) is the call's end reason.
``warm_transfer_call(destination, summary)``
    only with ``warm_transfer=WarmTransferOptions(...)`` on a SIP call: the caller holds
    while the agent dials the destination (a name from ``transfer_targets``), briefs the
    human with ``summary``, connects them and leaves; nobody answers: the agent is back
    (:mod:`omnivoice_rtc.agent.warm_transfer`).

They run the same :class:`~omnivoice_rtc.calls.control_client.RoomCallControl` as the
operator CLI: SIP through the LiveKit server API (the job's credentials), carrier calls
through the shim that owns them (``omnivoice.call_control``). Transfer, hold and
hang-up act once the turn that called them has played (a speech queued inside a tool
would wait for that turn forever); their tasks belong to the tool set and end with the
session. livekit-agents' ``beta.tools`` ``EndCallTool`` deletes the room, which on a
carrier route loses the hang-up reason and the carrier's own hang-up; ``send_dtmf_events``
publishes digits as this tool does on SIP. These tools extend both to every route.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Final

from livekit import api
from livekit.agents import AgentSession, RunContext, function_tool, get_job_context, llm

from omnivoice_rtc._errors import OmniVoiceError, UnsupportedActionError
from omnivoice_rtc.agent.call_context import CallContext
from omnivoice_rtc.agent.call_flow import speak
from omnivoice_rtc.agent.call_hold import hold_of
from omnivoice_rtc.agent.warm_transfer import WarmTransfer, WarmTransferOptions
from omnivoice_rtc.agent.warm_transfer_command import NOT_CONFIGURED_REASON, register_warm_transfer
from omnivoice_rtc.calls.control import (
    DEFAULT_HANGUP_REASON,
    DEFAULT_TRANSFER_LINE,
    SIP_ROUTE,
    CallAction,
    parse_transfer_target,
)
from omnivoice_rtc.calls.control_client import RoomCallControl
from omnivoice_rtc.settings import Settings

__all__ = ["CallControlTools", "call_control_tools"]

logger = logging.getLogger(__name__)

DEFAULT_GOODBYE: Final = "Thank you for calling. Goodbye!"
DEFAULT_RESUME_LINE: Final = "Thank you for holding."
_REASON_CHARS: Final = re.compile(r"[^A-Za-z0-9_.:-]+")


def _reason(text: str) -> str:
    slug = _REASON_CHARS.sub("_", text.strip()).strip("_")[:64]
    return slug or DEFAULT_HANGUP_REASON


class CallControlTools:
    """The tool set of one call (see the module docstring); :attr:`tools` goes into
    ``AgentSpec.tools``. ``livekit_api`` overrides the job's server API (tests); outside a
    job (``LiveKitGateway``) one is opened from the settings and closed with the session."""

    def __init__(
        self,
        *,
        ctx: CallContext,
        transfer_targets: Mapping[str, str] | None = None,
        allow_any_target: bool = False,
        transfer_line: str = DEFAULT_TRANSFER_LINE,
        goodbye: str = DEFAULT_GOODBYE,
        resume_line: str = DEFAULT_RESUME_LINE,
        max_hold_s: float = 300.0,
        livekit_api: Callable[[], api.LiveKitAPI] | None = None,
        warm_transfer: WarmTransferOptions | None = None,
    ) -> None:
        self._ctx = ctx
        self._warm = warm_transfer
        self._targets = {
            name.lower(): parse_transfer_target(to).value
            for name, to in (transfer_targets or {}).items()
        }
        self._any = allow_any_target
        self._transfer_line = transfer_line
        self._goodbye = goodbye
        self._resume_line = resume_line
        self._max_hold_s = max_hold_s
        self._api_factory = livekit_api
        self._api: api.LiveKitAPI | None = None
        self._owns_api = False
        self._closing: asyncio.Task[None] | None = None
        """Closes the LiveKit API this tool set opened (not the job's) after the session."""
        self._control: RoomCallControl | None = None
        self._session: AgentSession[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.tools: list[llm.Tool] = self._build() if ctx.is_phone_call else []
        if warm_transfer is not None and ctx.route == SIP_ROUTE:  # the control-topic command
            register_warm_transfer(ctx.room, ctx.participant_identity, self)

    # ------------------------------------------------------------------ plumbing

    def _livekit_api(self) -> api.LiveKitAPI:
        if self._api_factory is not None:
            return self._api_factory()
        if self._api is None:
            try:
                self._api = get_job_context().api
            except RuntimeError:  # not in a job (LiveKitGateway): the process's settings
                lk = Settings.from_env().livekit
                self._api = api.LiveKitAPI(lk.url, lk.api_key, lk.api_secret)
                self._owns_api = True
        return self._api

    def _control_for(self, session: AgentSession[Any]) -> RoomCallControl:
        if self._control is None:
            self._session = session
            session.on("close", self._on_close)

            async def say(line: str) -> None:
                await speak(session, line, allow_interruptions=False)

            async def hold(on: bool) -> None:
                if on:
                    hold_of(session).hold()
                else:
                    hold_of(session).resume()

            self._control = RoomCallControl(
                room=session.room_io.room,
                caller=self._ctx.participant_identity,
                route=self._ctx.route,
                livekit_api=self._livekit_api,
                speak=say,
                hold=hold,
            )
        return self._control

    def _after_turn(
        self, run: RunContext[Any], action: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Run ``action`` once the turn that called the tool has played."""

        def start(_: object) -> None:
            task = asyncio.get_running_loop().create_task(self._guarded(action))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        run.speech_handle.add_done_callback(start)

    async def _guarded(self, action: Callable[[], Awaitable[None]]) -> None:
        try:
            await action()
        except (OmniVoiceError, ValueError) as exc:
            logger.warning("call control tool failed", extra={"error": str(exc)})
            session = self._session
            if session is not None:
                hold_of(session).resume()
                try:
                    await speak(session, "Sorry, that did not work.")
                except RuntimeError:  # the session closed meanwhile
                    return

    def _on_close(self, _event: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._control is not None:
            self._control.close()
        if self._owns_api and self._api is not None and self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._api.aclose())

    async def run_warm_transfer(self, session: AgentSession[Any], to: str, summary: str) -> bool:
        """Warm-transfer the caller to ``to`` after briefing them with ``summary`` (the
        ``warm_transfer_call`` tool, and the ``warm_transfer`` control command through
        :mod:`.warm_transfer_command`). True connected, False not answered."""
        if self._warm is None:
            raise UnsupportedActionError(
                f"{self._ctx.route}: warm_transfer is not supported: {NOT_CONFIGURED_REASON}",
                action=CallAction.WARM_TRANSFER.value,
                route=self._ctx.route,
            )
        self._control_for(session).capabilities.require(CallAction.WARM_TRANSFER)
        transfer = WarmTransfer(
            session=session,
            room=session.room_io.room,
            caller=self._ctx.participant_identity,
            livekit_api=self._livekit_api,
            options=self._warm,
        )
        return await transfer.run(to, summary)

    def _resolve(self, destination: str) -> str | None:
        wanted = destination.strip().lower()
        if wanted in self._targets:
            return self._targets[wanted]
        for name, target in self._targets.items():  # "transfer me to sales please"
            if re.search(rf"\b{re.escape(name)}\b", wanted):
                return target
        if self._any:
            try:
                return parse_transfer_target(destination).value
            except ValueError:
                return None
        return None

    # ------------------------------------------------------------------ tools

    def _build(self) -> list[llm.Tool]:
        names = ", ".join(sorted(self._targets)) or "none"

        async def transfer_call(context: RunContext[Any], destination: str) -> str | None:
            target = self._resolve(destination)
            if target is None:
                return f"Unknown destination. Known destinations: {names}."
            control = self._control_for(context.session)
            line = self._transfer_line
            self._after_turn(context, lambda: control.transfer(target, say=line))
            return None

        async def hold_call(context: RunContext[Any], seconds: int) -> str | None:
            control = self._control_for(context.session)
            wait_s = max(1.0, min(float(seconds), self._max_hold_s))

            async def hold_then_resume() -> None:
                await control.hold()
                try:
                    await asyncio.sleep(wait_s)
                finally:
                    await control.resume()
                if self._resume_line:
                    await speak(context.session, self._resume_line)

            self._after_turn(context, hold_then_resume)
            return None

        async def send_dtmf(context: RunContext[Any], digits: str) -> str:
            control = self._control_for(context.session)
            try:
                await control.send_dtmf(digits.replace(" ", ""))
            except (OmniVoiceError, ValueError) as exc:
                return f"Could not send the digits: {exc}"
            return "Digits sent."

        async def end_call(context: RunContext[Any], reason: str = DEFAULT_HANGUP_REASON) -> None:
            control = self._control_for(context.session)
            goodbye = self._goodbye

            async def goodbye_then_hang_up() -> None:
                if goodbye:
                    await speak(context.session, goodbye, allow_interruptions=False)
                await control.hangup(_reason(reason))

            self._after_turn(context, goodbye_then_hang_up)

        async def warm_transfer_call(
            context: RunContext[Any], destination: str, summary: str
        ) -> str | None:
            target = self._resolve(destination)
            if target is None:
                return f"Unknown destination. Known destinations: {names}."
            self._control_for(context.session).capabilities.require(CallAction.WARM_TRANSFER)

            async def consult() -> None:
                await self.run_warm_transfer(context.session, target, summary)

            self._after_turn(context, consult)
            return None

        warm = (
            [
                function_tool(
                    warm_transfer_call,
                    name="warm_transfer_call",
                    description=(
                        "Warm transfer: put the caller on hold, call a person, tell them "
                        "`summary` (who is calling and why), then connect the caller and "
                        f"leave. destination: one of {names}."
                    ),
                )
            ]
            if self._warm is not None and self._ctx.route == SIP_ROUTE
            else []
        )
        return [
            *warm,
            function_tool(
                transfer_call,
                name="transfer_call",
                description=(
                    "Transfer the caller to a person or team (cold transfer). "
                    f"destination: one of {names}. You leave the call afterwards."
                ),
            ),
            function_tool(
                hold_call,
                name="hold_call",
                description=(
                    "Put the caller on hold with hold music for a number of seconds "
                    f"(at most {self._max_hold_s:g}), e.g. while looking something up."
                ),
            ),
            function_tool(
                send_dtmf,
                name="send_dtmf",
                description="Press keys on the phone line (DTMF): digits 0-9, * and #.",
            ),
            function_tool(
                end_call,
                name="end_call",
                description=(
                    "Say goodbye and hang up. reason: one or two words on why "
                    "(e.g. resolved, caller_asked, wrong_number)."
                ),
            ),
        ]


def call_control_tools(
    ctx: CallContext,
    *,
    transfer_targets: Mapping[str, str] | None = None,
    allow_any_target: bool = False,
    transfer_line: str = DEFAULT_TRANSFER_LINE,
    goodbye: str = DEFAULT_GOODBYE,
    warm_transfer: WarmTransferOptions | None = None,
) -> list[llm.Tool]:
    """The call-control tools for ``ctx``'s call (none for a browser call); see the module
    docstring. ``transfer_targets`` maps names the model may use to numbers / SIP URIs;
    ``warm_transfer`` adds ``warm_transfer_call`` on SIP calls."""
    return CallControlTools(
        ctx=ctx,
        transfer_targets=transfer_targets,
        allow_any_target=allow_any_target,
        transfer_line=transfer_line,
        goodbye=goodbye,
        warm_transfer=warm_transfer,
    ).tools
