"""What a session does on its own initiative: greet once the caller's audio path is up,
prompt after silence, and end a call politely.

Greeting: livekit-agents already holds agent audio until someone subscribed to the
agent's track (a browser or the shim joins with the caller's audio path up). A SIP call
is not bridged until livekit-sip answered it and the caller's RTP flowed (its
``sip.callStatus`` attribute turns ``active``), so for SIP the greeting waits for that
too (at most :data:`SIP_ANSWER_WAIT_S`). Realtime models without a TTS are asked to say
the text (``generate_reply`` with instructions); every other pipeline speaks it with
``AgentSession.say``. The greeting is an agent turn of the transcript.

Silence (:class:`~.agent_spec.SilenceHandling`): livekit-agents marks the user ``away``
once neither side spoke for ``timeout_s`` (``user_away_timeout``); the agent then says
the prompt once; if the caller still says nothing for ``timeout_s`` it says the goodbye
(not interruptible) and ends the call with reason ``silence_timeout``. Speech in between
starts the count again.

Answering machines (``answering_machine`` set: an outbound call with ``OMNIVOICE_AMD``):
once the call is answered the greeting waits for :func:`~.amd.screen_call`'s verdict; a
person (or no verdict) is greeted, a machine gets the voicemail message and the call
ends (:mod:`.amd`).

Ending a call (silence, ``max_call_duration``): after the goodbye the session closes with
its reason and, for a phone call, the caller is removed from the room (livekit-sip sends
BYE; the shim hangs up the carrier call).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.agents.utils import is_given
from livekit.agents.voice import events as lk

from omnivoice_rtc.agent.agent_spec import SilenceHandling
from omnivoice_rtc.agent.amd import AMDOutcome, screen_call
from omnivoice_rtc.logs import pii
from omnivoice_rtc.settings.answering_machine import AnsweringMachineSettings

__all__ = [
    "GOODBYE_TIMEOUT_S",
    "SIP_ANSWER_WAIT_S",
    "CallFlow",
    "CallFlowDriver",
    "speak",
]

logger = logging.getLogger(__name__)

SIP_ANSWER_WAIT_S = 15.0
"""Longest wait (s) for a SIP call's ``sip.callStatus`` to turn ``active`` before greeting."""
GOODBYE_TIMEOUT_S = 10.0
"""Longest a goodbye may play (s) before the call ends anyway."""
_SIP_STATUS = "sip.callStatus"

HangUp = Callable[[], Awaitable[None]]
"""Removes the caller from the room (ends a phone call)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallFlow:
    """The session's own initiatives: ``greeting`` ("" = none), ``silence`` (None = off),
    ``wait_for_sip_answer`` (greet once the SIP call is active), ``hang_up`` (ends the
    phone call after a goodbye; None for browsers and in-process rooms),
    ``answering_machine`` (screen the call before greeting; None = off)."""

    greeting: str = ""
    silence: SilenceHandling | None = None
    wait_for_sip_answer: bool = False
    hang_up: HangUp | None = None
    answering_machine: AnsweringMachineSettings | None = None

    @property
    def user_away_timeout_s(self) -> float | None:
        """livekit-agents' ``user_away_timeout`` (s) for this flow (None = off)."""
        return self.silence.timeout_s if self.silence is not None and self.silence.enabled else None


def _speaks_itself(session: AgentSession[Any]) -> bool:
    """True when the agent's LLM is a realtime model with no TTS to say a text."""
    agent = session.current_agent
    tts: Any = agent.tts if is_given(agent.tts) else session.tts
    model: Any = agent.llm if is_given(agent.llm) else session.llm
    return tts is None and isinstance(model, llm.RealtimeModel)


async def speak(
    session: AgentSession[Any], text: str, *, allow_interruptions: NotGivenOr[bool] = NOT_GIVEN
) -> None:
    """Say ``text`` and wait until it has played (or was interrupted)."""
    if _speaks_itself(session):
        handle = session.generate_reply(
            instructions=f"Say exactly this to the user, and nothing else: {text}",
            allow_interruptions=allow_interruptions,
        )
    else:
        handle = session.say(text, allow_interruptions=allow_interruptions)
    await handle.wait_for_playout()


class CallFlowDriver:
    """Runs a :class:`CallFlow` on a started AgentSession for ``participant``.

    ``spawn`` runs a coroutine as a task the session owns (cancelled at teardown);
    ``end_call(reason)`` hangs up (``flow.hang_up``) and closes the session with that
    reason.
    """

    def __init__(
        self,
        *,
        flow: CallFlow,
        session: AgentSession[Any],
        room: rtc.Room,
        participant: rtc.RemoteParticipant,
        spawn: Callable[[Coroutine[Any, Any, None], str], None],
        end_call: Callable[[str], Awaitable[None]],
    ) -> None:
        self._flow = flow
        self._session = session
        self._room = room
        self._participant = participant
        self._spawn = spawn
        self._end_call = end_call
        self._heard = asyncio.Event()
        self._prompting = False
        self._ending = False
        self.greeted_at: float | None = None
        """time.monotonic() when the greeting started playing (None until then)."""
        self.amd_outcome: AMDOutcome | None = None
        """The answering-machine verdict (None: not screened, or not yet)."""

    def start(self) -> None:
        """Greet (if there is a greeting, or a call to screen first) and watch for
        silence (if configured)."""
        if self._flow.greeting or self._flow.answering_machine is not None:
            self._spawn(self._greet(), "omnivoice.greeting")
        if self._flow.user_away_timeout_s is not None:
            self._session.on("user_state_changed", self._on_user_state)
            self._session.on("user_input_transcribed", self._on_transcribed)

    def stop(self) -> None:
        self._session.off("user_state_changed", self._on_user_state)
        self._session.off("user_input_transcribed", self._on_transcribed)

    # -- greeting -------------------------------------------------------------------------
    async def _sip_answered(self) -> None:
        changed = asyncio.Event()

        def on_attributes(_changed: dict[str, str], p: rtc.Participant) -> None:
            if p.identity == self._participant.identity:
                changed.set()

        room = self._room
        room.on("participant_attributes_changed", on_attributes)
        try:
            async with asyncio.timeout(SIP_ANSWER_WAIT_S):
                while self._participant.attributes.get(_SIP_STATUS, "active") != "active":
                    changed.clear()
                    await changed.wait()
        except TimeoutError:
            logger.warning(
                "SIP call not active in time; greeting anyway",
                extra={"wait_s": SIP_ANSWER_WAIT_S, **pii(participant=self._participant.identity)},
            )
        finally:
            room.off("participant_attributes_changed", on_attributes)

    async def _greet(self) -> None:
        began = time.monotonic()
        if self._flow.wait_for_sip_answer:
            await self._sip_answered()
        if self._flow.answering_machine is not None:
            await self._screen(self._flow.answering_machine, began)
        else:
            await self._say_greeting(began)

    async def _say_greeting(self, began: float, *, screened: bool = False) -> None:
        """Say the greeting; after screening (``screened``) not interruptible: the callee's
        "Hello?" is still being transcribed and its transcript would cut it off."""
        if not self._flow.greeting:
            return
        self.greeted_at = time.monotonic()
        logger.info(
            "greeting the caller",
            extra={
                "audio_path_wait_ms": round((self.greeted_at - began) * 1000),
                **pii(participant=self._participant.identity),  # a SIP identity holds a number
            },
        )
        try:
            await speak(
                self._session,
                self._flow.greeting,
                allow_interruptions=False if screened else NOT_GIVEN,
            )
        except RuntimeError as exc:  # the session closed before the greeting
            logger.info("greeting not played", extra={"reason": str(exc)})

    async def _screen(self, settings: AnsweringMachineSettings, began: float) -> None:
        """Answering-machine detection, then the greeting (a person, or no verdict) or
        the end of the call (a machine: :func:`~.amd.screen_call`)."""

        async def say(text: str) -> None:
            await speak(self._session, text, allow_interruptions=False)

        try:
            outcome = await screen_call(
                session=self._session,
                participant=self._participant,
                settings=settings,
                speak=say,
                greet=functools.partial(self._say_greeting, began, screened=True),
            )
        except RuntimeError as exc:  # the session closed, or AMD ended without a verdict
            logger.info("answering machine detection stopped", extra={"reason": str(exc)})
            if self.greeted_at is None:
                await self._say_greeting(began)  # finds the session closed, if it is
            return
        self.amd_outcome = outcome
        if outcome.greet:
            return
        self._ending = True
        logger.info("ending the call", extra={"reason": outcome.end_reason})
        await self._end_call(outcome.end_reason)

    # -- silence --------------------------------------------------------------------------
    def _on_user_state(self, ev: lk.UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._heard.set()
        elif ev.new_state == "away" and not self._prompting and not self._ending:
            self._prompting = True
            self._heard.clear()
            self._spawn(self._prompt_then_end(), "omnivoice.silence")

    def _on_transcribed(self, ev: lk.UserInputTranscribedEvent) -> None:
        if ev.transcript.strip():
            self._heard.set()

    async def _prompt_then_end(self) -> None:
        silence = self._flow.silence
        assert silence is not None
        try:
            logger.info("caller silent; prompting", extra={"timeout_s": silence.timeout_s})
            await speak(self._session, silence.prompt)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(silence.timeout_s):
                    await self._heard.wait()
            if self._heard.is_set():
                return
            await self.end_call("silence_timeout", silence.goodbye)
        except RuntimeError as exc:  # the session closed meanwhile
            logger.debug("silence handling stopped", extra={"reason": str(exc)})
        finally:
            self._prompting = False

    # -- ending ---------------------------------------------------------------------------
    async def end_call(self, reason: str, goodbye: str) -> None:
        """Say ``goodbye`` (not interruptible, at most :data:`GOODBYE_TIMEOUT_S`), close the
        session with ``reason`` and hang up a phone call."""
        if self._ending:
            return
        self._ending = True
        with contextlib.suppress(RuntimeError):
            self._session.interrupt(force=True)
        try:
            async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                await speak(self._session, goodbye, allow_interruptions=False)
        except (RuntimeError, TimeoutError) as exc:
            logger.warning("goodbye not played before closing", extra={"error": str(exc)})
        logger.info("ending the call", extra={"reason": reason})
        await self._end_call(reason)
