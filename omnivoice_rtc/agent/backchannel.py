"""Backchannels ("mm-hm", "yeah", "okay") said over the agent do not end its reply.

The session pauses the agent's reply as soon as the user has spoken for
``min_duration`` (a barge-in stops the audio at once, see
:func:`~omnivoice_rtc.agent.participants.interruption_settings`); livekit-agents then
resumes it when no transcript follows (a cough, a door) and ends it for good when one
does. A backchannel does produce a transcript, so livekit would end the reply and answer
"mm-hm". :class:`BackchannelFilterSTT` wraps the pipeline's STT and turns a transcript that
is only backchannel words into no transcript while a reply is in progress: the paused
reply resumes after ``false_interruption_timeout``, as after a cough. The same words when
the agent is quiet are a turn like any other ("Yeah." answers a question).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from livekit.agents import APIConnectOptions, stt, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

__all__ = ["BACKCHANNEL_WORDS", "BackchannelFilterSTT", "is_backchannel"]

BACKCHANNEL_WORDS = frozenset(
    {
        *("mm", "mmm", "hm", "hmm", "mhm", "mmhm", "mmhmm", "uh", "huh", "uhhuh", "ah"),
        *("aha", "oh", "yeah", "yep", "yup", "yes", "ok", "okay", "right", "sure"),
        *("alright", "got", "it", "i", "see", "cool", "great", "nice", "wow"),
    }
)
"""Words a listener says to show they follow (lower case, hyphens removed)."""

MAX_BACKCHANNEL_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def is_backchannel(text: str) -> bool:
    """Whether ``text`` is only a listener's acknowledgement: 1-3 words, all in
    :data:`BACKCHANNEL_WORDS` ("Mm-hmm.", "yeah okay", "I see"; not "yes please")."""
    words = [w.replace("-", "").replace("'", "") for w in _WORD.findall(text.lower())]
    return 0 < len(words) <= MAX_BACKCHANNEL_WORDS and all(w in BACKCHANNEL_WORDS for w in words)


def _drops(event: stt.SpeechEvent, reply_in_progress: Callable[[], bool]) -> bool:
    return (
        event.type
        in (
            stt.SpeechEventType.FINAL_TRANSCRIPT,
            stt.SpeechEventType.INTERIM_TRANSCRIPT,
            stt.SpeechEventType.PREFLIGHT_TRANSCRIPT,
        )
        and bool(event.alternatives)
        and is_backchannel(event.alternatives[0].text)
        and reply_in_progress()
    )


class BackchannelFilterSTT(stt.STT[Any]):
    """``inner`` with backchannel transcripts dropped while ``reply_in_progress()`` (the
    agent is speaking a reply or holds one paused). Same capabilities as ``inner``."""

    def __init__(self, inner: stt.STT[Any], *, reply_in_progress: Callable[[], bool]) -> None:
        super().__init__(capabilities=inner.capabilities)
        self._inner = inner
        self._reply_in_progress = reply_in_progress
        self.dropped = 0
        """Backchannel transcripts dropped so far."""

    @property
    def model(self) -> str:
        return self._inner.model

    @property
    def provider(self) -> str:
        return self._inner.provider

    def keep(self, event: stt.SpeechEvent) -> stt.SpeechEvent | None:
        """``event``, or None when it is a backchannel said over a reply (counted)."""
        if _drops(event, self._reply_in_progress):
            self.dropped += 1
            return None
        return event

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        event = await self._inner.recognize(buffer, language=language, conn_options=conn_options)
        if self.keep(event) is None:  # no text: livekit's StreamAdapter then emits nothing
            return stt.SpeechEvent(
                type=event.type,
                request_id=event.request_id,
                alternatives=[stt.SpeechData(language=event.alternatives[0].language, text="")],
            )
        return event

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        inner = self._inner.stream(language=language, conn_options=conn_options)
        return _FilteredStream(stt=self, inner=inner, conn_options=conn_options)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _FilteredStream(stt.RecognizeStream):
    """A streaming STT's stream with :meth:`BackchannelFilterSTT.keep` on its events."""

    def __init__(
        self,
        *,
        stt: BackchannelFilterSTT,
        inner: stt.RecognizeStream,
        conn_options: APIConnectOptions,
    ) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._filter = stt
        self._inner = inner

    async def _run(self) -> None:
        forward = asyncio.create_task(self._forward_input(), name="backchannel.forward")
        try:
            async for event in self._inner:
                if self._filter.keep(event) is not None:
                    self._event_ch.send_nowait(event)
        finally:
            await utils.aio.cancel_and_wait(forward)
            await self._inner.aclose()

    async def _forward_input(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                self._inner.flush()
            else:
                self._inner.push_frame(item)
        self._inner.end_input()
