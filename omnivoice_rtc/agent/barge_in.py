"""The ``immediate`` interruption mode: the agent goes quiet as soon as the user talks over
it, and its reply ends for good only when the user really took the turn.

livekit-agents alone offers two behaviours: cut the reply for good after ``min_duration``
of user speech (a cough or an "mm-hm" then ends the reply), or pause it after
``min_duration`` and resume it when no transcript follows (a real barge-in whose
transcript comes late, from a slow STT on a busy machine, then hears the agent resume).
Ours combines them:

1. after :data:`PAUSE_AFTER_S` of user speech the reply pauses: the room output drops
   its queue at once (:class:`~omnivoice_rtc.agent.room_audio_output.RoomAudioOutput`),
   and a carrier stream's shim clears the carrier's buffer on the state change;
2. :class:`BargeInCommit` ends the paused reply for good once the user has spoken for
   :data:`COMMIT_AFTER_S` (no transcript needed; longer than a backchannel), and
   livekit ends it as soon as a transcript that is not a backchannel arrives;
3. otherwise (a cough, a door, an "mm-hm" dropped by
   :class:`~omnivoice_rtc.agent.backchannel.BackchannelFilterSTT`) livekit resumes the
   reply :data:`RESUME_AFTER_S` after the user went quiet.

Measured in docs/benchmarks.md ("Barge-in and mm-hm").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from livekit.agents import AgentSession, UserStateChangedEvent

__all__ = ["COMMIT_AFTER_S", "PAUSE_AFTER_S", "RESUME_AFTER_S", "BargeInCommit"]

logger = logging.getLogger(__name__)

PAUSE_AFTER_S = 0.25
"""User speech (s, VAD) after which the agent's reply pauses."""
COMMIT_AFTER_S = 0.8
"""User speech (s, VAD) after which the paused reply ends for good."""
RESUME_AFTER_S = 1.5
"""Silence (s) after a pause with no transcript (or a backchannel) before the reply resumes."""
_START_LAG_S = 0.05
"""The VAD reports the start of speech after ~50 ms of it (silero's minimum speech)."""


class BargeInCommit:
    """Ends the current reply once the user has talked over it for ``commit_after_s``.

    Feed it the session's ``user_state_changed`` events; :meth:`aclose` cancels its timer.
    """

    def __init__(self, session: AgentSession[Any], *, commit_after_s: float = COMMIT_AFTER_S):
        self._session = session
        self._wait_s = max(0.0, commit_after_s - _START_LAG_S)
        self._timer: asyncio.Task[None] | None = None
        self.committed = 0
        """Replies this ended for good."""

    def on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            if self._timer is None or self._timer.done():
                self._timer = asyncio.create_task(self._commit(), name="barge_in.commit")
        elif self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _commit(self) -> None:
        await asyncio.sleep(self._wait_s)
        speech = self._session.current_speech
        if speech is None or speech.done() or speech.interrupted or not speech.allow_interruptions:
            return
        self.committed += 1
        logger.debug("barge-in committed", extra={"speech_id": speech.id})
        speech.interrupt()

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
