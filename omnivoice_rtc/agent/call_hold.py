"""Hold and resume inside the agent: the caller hears hold audio, the agent neither
listens nor speaks until resumed.

Holding a livekit-agents ``AgentSession``: its current speech is interrupted, its audio
input is disabled (no user turns, no replies), and the generated hold audio
(:mod:`omnivoice_rtc.calls.hold_audio`) plays through its audio output as a speech that
is neither interruptible nor added to the chat. Resuming interrupts that speech and
enables the input again. The same :class:`CallHold` serves the LLM tool
(:mod:`.call_tools`) and the ``hold``/``resume`` commands on ``omnivoice.control``
(the job applies them, and ``speak``, with :func:`apply_call_command`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any, Final

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.speech_handle import SpeechHandle

from omnivoice_rtc.agent.call_flow import speak
from omnivoice_rtc.calls.hold_audio import HOLD_RATE_HZ, hold_frames_pcm

__all__ = ["CALL_CONTROL_COMMANDS", "CallHold", "apply_call_command", "hold_of"]

logger = logging.getLogger(__name__)

CALL_CONTROL_COMMANDS: Final = frozenset({"speak", "hold", "resume"})
"""The ``omnivoice.control`` commands :func:`apply_call_command` applies."""
_FRAME_MS: Final = 20
_HOLDS: weakref.WeakKeyDictionary[AgentSession[Any], CallHold] = weakref.WeakKeyDictionary()


async def _hold_audio() -> AsyncIterator[rtc.AudioFrame]:
    samples = HOLD_RATE_HZ * _FRAME_MS // 1000
    for pcm in hold_frames_pcm(HOLD_RATE_HZ, frame_ms=_FRAME_MS):
        yield rtc.AudioFrame(pcm, HOLD_RATE_HZ, 1, samples)
        await asyncio.sleep(0)  # the output paces playout; let other tasks run


class CallHold:
    """Hold state of one AgentSession (get it with :func:`hold_of`)."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self._session = session
        self._music: SpeechHandle | None = None

    @property
    def held(self) -> bool:
        return self._music is not None

    def hold(self) -> None:
        """Stop speaking and listening; play hold audio. Idempotent."""
        if self._music is not None:
            return
        session = self._session
        with contextlib.suppress(RuntimeError):  # nothing to interrupt
            session.interrupt(force=True)
        session.input.set_audio_enabled(False)
        self._music = session.say(
            "", audio=_hold_audio(), allow_interruptions=False, add_to_chat_ctx=False
        )
        logger.info("call on hold")

    def resume(self) -> None:
        """Stop the hold audio; listen and speak again. Idempotent."""
        music, self._music = self._music, None
        if music is None:
            return
        music.interrupt(force=True)
        self._session.input.set_audio_enabled(True)
        logger.info("call resumed")


def hold_of(session: AgentSession[Any]) -> CallHold:
    """The :class:`CallHold` of ``session`` (one per session)."""
    hold = _HOLDS.get(session)
    if hold is None:
        hold = _HOLDS[session] = CallHold(session)
    return hold


async def apply_call_command(session: AgentSession[Any] | None, kind: str, text: str) -> None:
    """Apply a ``speak``, ``hold`` or ``resume`` command from ``omnivoice.control`` to
    ``session`` (None: not running). ``speak`` returns once the line has played."""
    if session is None:
        logger.info("call command for a session that is not running", extra={"type": kind})
        return
    hold = hold_of(session)
    if kind == "hold":
        hold.hold()
    elif kind == "resume":
        hold.resume()
    else:
        try:
            await speak(session, text, allow_interruptions=False)
        except RuntimeError as exc:  # the session closed meanwhile
            logger.info("line not spoken", extra={"reason": str(exc)})
