"""AgentTracker: which participant of a call's room is the agent, and whether it lives.

Shared by the shim's call rooms (:class:`~omnivoice_rtc.shim.call_room.CallRoomBase`) and
the SIP gateway's observer (:class:`~omnivoice_rtc.sip.sip_session.SIPSession`). The route
feeds it plain facts (a participant of kind agent joined, left, changed its attributes,
sent audio, ended its session for our caller); it decides when the agent is *gone* and
says why (:data:`AgentDeparture`) through ``on_gone``, once per agent:

* ``agent_ended``: it reported ``session_ended`` (no error) for our caller, then left: the
  conversation is over;
* ``agent_left``: it left without that;
* ``agent_never_joined``: no agent within the join timeout (:meth:`AgentTracker.watch_join`);
* ``agent_unresponsive``: it is still listed but did not answer (:meth:`AgentTracker.watch_alive`
  asks a route-specific ``probe`` every ``agent_ping_s``).

:meth:`AgentTracker.retire` gives up on the current agent before a fresh one is dispatched:
the old identity is never taken for the agent again (a killed agent stays listed 15-25 s).

One agent per call: once a fresh agent was dispatched, a fresh agent can arrive after its
join timeout, when the next one is already dispatched, and both would answer the caller
(seen on an overloaded machine: the job took 4 s to start, the join timeout is 6 s, the
caller's DTMF was reported twice). :meth:`AgentTracker.claim_surplus` names such a second
agent once, for the route to remove it from the room.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from omnivoice_rtc.settings import CallSettings

__all__ = ["AGENT_STATE_ATTRIBUTE", "AgentDeparture", "AgentLink", "AgentTracker"]

logger = logging.getLogger(__name__)

AGENT_STATE_ATTRIBUTE: Final = "lk.agent.state"

_STARVED_S: Final = 0.3
"""A check that ran this much later than due (s), or a probe that overran its timeout by
this much, says the process itself was starved of CPU; nothing is judged from it."""

AgentDeparture = Literal[
    "", "agent_ended", "agent_left", "agent_never_joined", "agent_unresponsive"
]
"""Why the agent is gone (see the module docstring); ``""`` while it is there or expected."""


@dataclass(slots=True)
class AgentLink:
    """One agent of the call (a fresh agent gets a new link)."""

    identity: str = ""
    state: str = ""
    audio_frames: int = 0
    last_audio_at: float | None = None
    """Monotonic reading (s) of the agent's last audio frame, None before the first."""
    left: bool = False
    ended: bool = False
    """The agent reported ``session_ended`` (without an error) for our caller."""
    departure: AgentDeparture = ""
    seen: asyncio.Event = field(default_factory=asyncio.Event)


class AgentTracker:
    """See the module docstring. ``context`` goes into every log record (room, call id)."""

    def __init__(
        self,
        *,
        liveness: CallSettings,
        on_gone: Callable[[AgentDeparture], None],
        context: Mapping[str, object],
    ) -> None:
        self.liveness = liveness
        self._on_gone = on_gone
        self._context = dict(context)
        self.link = AgentLink()
        self._retired: set[str] = set()
        self._surplus: set[str] = set()
        self._replaced = False
        """A fresh agent was dispatched (:meth:`retire` ran)."""

    @property
    def identity(self) -> str:
        """The agent's identity once it has joined, else ``""``."""
        return self.link.identity

    @property
    def departure(self) -> AgentDeparture:
        return self.link.departure

    def is_retired(self, identity: str) -> bool:
        return identity in self._retired

    # ------------------------------------------------------------------ facts

    def note(self, identity: str, attributes: Mapping[str, str]) -> bool:
        """A participant of kind agent is in the room; the first one not given up on is
        *the* agent. True when ``identity`` is the agent."""
        link = self.link
        if not link.identity and identity not in self._retired:
            link.identity = identity
            link.state = attributes.get(AGENT_STATE_ATTRIBUTE, "")
            link.seen.set()
        return identity == link.identity

    def claim_surplus(self, identity: str) -> bool:
        """True (once per identity) when agent ``identity`` is a second agent in the call:
        a fresh agent was dispatched (:meth:`retire`), the call has its agent, and
        ``identity`` is neither that agent nor one given up on. The route removes it."""
        if not self._replaced:
            return False
        link = self.link
        if not link.identity or identity == link.identity or identity in self._retired:
            return False
        if identity in self._surplus:
            return False
        self._surplus.add(identity)
        logger.warning(
            "second agent in the call; removing it", extra={**self._context, "agent": identity}
        )
        return True

    def note_audio(self) -> None:
        """One frame of the agent's audio arrived (counted; its time kept)."""
        self.link.audio_frames += 1
        self.link.last_audio_at = time.monotonic()

    def state_changed(self, identity: str, changed: Mapping[str, str]) -> tuple[str, str] | None:
        """``(old, new)`` when the agent's ``lk.agent.state`` changed, else None."""
        link = self.link
        if identity != link.identity or AGENT_STATE_ATTRIBUTE not in changed:
            return None
        old, link.state = link.state, changed[AGENT_STATE_ATTRIBUTE]
        return (old, link.state) if old != link.state else None

    def session_ended(self) -> None:
        """The agent ended our caller's conversation itself (``session_ended``, no error)."""
        self.link.ended = True

    def participant_left(self, identity: str) -> None:
        if identity == self.link.identity and not self.link.left:
            self.gone("agent_ended" if self.link.ended else "agent_left")

    def gone(self, departure: AgentDeparture) -> None:
        """The current agent is gone for ``departure``: ``on_gone`` (once per agent)."""
        link = self.link
        if link.left:
            return
        link.left = True
        link.departure = departure
        logger.info("call agent gone", extra={**self._context, "why": departure})
        self._on_gone(departure)

    def retire(self) -> str:
        """Give up on the current agent (a fresh one is coming); returns its identity."""
        old = self.link.identity
        if old:
            self._retired.add(old)
        self._replaced = True
        self.link = AgentLink()
        return old

    # ------------------------------------------------------------------ watches

    async def watch_join(self, timeout_s: float) -> None:
        """Report ``agent_never_joined`` unless an agent joins within ``timeout_s`` (s)
        (nothing when the agent was replaced meanwhile)."""
        link = self.link
        try:
            async with asyncio.timeout(timeout_s):
                await link.seen.wait()
        except TimeoutError:
            if link is self.link:
                logger.warning("call agent did not join", extra=self._context)
                self.gone("agent_never_joined")

    async def watch_alive(
        self,
        probe: Callable[[str, float], Awaitable[bool]],
        *,
        closed: Callable[[], bool],
        server_answers: Callable[[float], Awaitable[bool]] | None = None,
        every_s: float | None = None,
    ) -> None:
        """Every ``every_s`` (default ``agent_ping_s``) ask ``probe(identity, timeout_s)``
        whether the agent lives; report ``agent_unresponsive`` when it does not and
        ``server_answers(timeout_s)`` says livekit-server itself answers (a frozen or
        unreachable server silences every agent: that is no reason to replace one; nor is
        the first check after the server answers again, while connections recover), and
        this process was not starved of CPU around the check (late evidence is no
        evidence). Runs until ``closed()``; not at all when ``agent_ping_s`` is 0 (off)."""
        if self.liveness.agent_ping_s <= 0:
            return
        every_s = every_s or self.liveness.agent_ping_s
        loop = asyncio.get_running_loop()
        server_was_down = False
        while not closed():
            asked_at = loop.time() + every_s
            await asyncio.sleep(every_s)
            link = self.link
            if not link.identity or link.left or closed():
                continue
            timeout_s = self.liveness.agent_ping_timeout_s
            if loop.time() - asked_at > _STARVED_S:  # this process was starved: so is the
                continue  # evidence (late audio, late acks); judge at the next check
            started = loop.time()
            if await probe(link.identity, timeout_s):
                server_was_down = False
                continue
            if loop.time() - started > timeout_s + _STARVED_S:
                continue  # the answer may be late because we were: inconclusive
            if server_answers is not None and not await server_answers(timeout_s):
                logger.warning(
                    "livekit-server does not answer; agent not judged", extra=self._context
                )
                server_was_down = True
                continue
            if server_was_down:  # the server is back: give connections one check to recover
                server_was_down = False
                continue
            if link is self.link and not link.left and not closed():
                logger.warning("call agent stopped answering", extra=self._context)
                self.gone("agent_unresponsive")

    def silent_too_long(self) -> bool:
        """True when the agent published audio and then nothing for
        :attr:`~omnivoice_rtc.settings.CallSettings.agent_silence_limit_s` (a live agent's
        track sends an Opus DTX packet at least every 400 ms even when it says nothing;
        measured: 4 to 6 packets a second from an idle livekit-agents job)."""
        last = self.link.last_audio_at
        return last is not None and time.monotonic() - last > self.liveness.agent_silence_limit_s
