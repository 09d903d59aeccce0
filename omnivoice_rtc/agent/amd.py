"""Answering-machine detection (AMD) on outbound calls, on every route.

Built on livekit-agents' ``voice.amd.AMD``: it listens to the callee once the call is
answered (a SIP call's ``sip.callStatus`` is ``active``; a carrier call's stream has
started), holds the agent's speech meanwhile, and classifies what it hears from the
session's own VAD and STT: a short answer followed by silence is a person; a longer
greeting goes to a classifier, the session's ``llm.LLM`` when the pipeline has a real one
(text pipeline), else :class:`~.amd_classifier.KeywordAMDLLM` (``local`` pipeline,
realtime models). Little here is route specific: a SIP participant and a carrier call's
participant are both an audio track in the room; only AMD's wait for ``sip.callStatus``
is skipped for a carrier call, whose participant is of kind SIP without that attribute
(its media stream started: it is answered).

:func:`screen_call` runs before the outbound greeting (:mod:`.call_flow`):

* ``human`` or ``uncertain`` (nothing said, or no verdict within ``timeout_s``): the
  agent greets, not interruptibly, and the callee's answer ("Hello?") gets no reply of
  its own while the greeting plays: its transcript comes after the verdict (VAD decides
  a short answer is a person's), and would otherwise cut the greeting off;
* a beep heard before a verdict makes it ``machine-vm`` (reason ``beep``) whatever the
  STT heard;
* a machine with ``OMNIVOICE_AMD_ON_MACHINE=voicemail``: wait for the beep
  (:class:`~omnivoice_rtc.audio.beep.BeepDetector` on the callee's track, at most
  ``beep_timeout_s``), say the voicemail message (not interruptible), end the call with
  reason ``voicemail``;
* a machine with ``hangup`` (or an empty message), or a full / unset mailbox
  (``machine-unavailable``): end the call with reason ``answering_machine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.voice.amd import AMD, AMDCategory, AMDPredictionEvent

from omnivoice_rtc.agent.amd_classifier import KeywordAMDLLM
from omnivoice_rtc.audio.beep import BeepDetector
from omnivoice_rtc.logs import pii
from omnivoice_rtc.settings.answering_machine import AnsweringMachineSettings

__all__ = [
    "BEEP_SAMPLE_RATE_HZ",
    "REASON_ANSWERING_MACHINE",
    "REASON_BEEP",
    "REASON_VOICEMAIL",
    "AMDOutcome",
    "Greet",
    "Speak",
    "classifier_llm",
    "screen_call",
    "wait_for_beep",
]

logger = logging.getLogger(__name__)

HUMAN_SILENCE_S: Final = 1.0
"""Silence (s) after a short answer (at most 2.5 s of speech) that makes it a person's.
livekit's default, 0.5 s, took a voicemail's first sentence ("Hi, you have reached
Alex.") for a person when VAD cut the greeting at its first pause; a person who said
"Hello?" waits longer than that for an answer."""
SETUP_WAIT_S: Final = 6.0
"""Longest wait (s) for AMD's own setup (its track wait is 5 s) on a carrier call."""
_SIP_STATUS: Final = "sip.callStatus"
TRACK_WAIT_S: Final = 10.0
"""Longest wait (s) for the callee's subscribed audio track before AMD starts."""
BEEP_SAMPLE_RATE_HZ: Final = 16000
"""Rate (Hz) the beep detector reads the callee's track at."""
REASON_VOICEMAIL: Final = "voicemail"
"""Close reason of a call on which the agent left the voicemail message."""
REASON_ANSWERING_MACHINE: Final = "answering_machine"
"""Close reason of a call a machine answered and the agent hung up on."""
REASON_BEEP: Final = "beep"
"""AMD verdict reason when the beep, heard before a verdict, decided a machine."""

Speak = Callable[[str], Awaitable[None]]
"""Says a text (not interruptible) and returns once it has played."""
Greet = Callable[[], Awaitable[None]]
"""Says the greeting and returns once it has played."""


class _ScreeningAMD(AMD):
    """livekit's AMD for screening a call before the agent speaks:

    * no turn that ends while it is open gets a reply of its own: it is a machine's
      greeting, or the person's "Hello?" that the greeting answers (livekit's AMD lets a
      turn that ends before its verdict through, and that reply then plays before the
      greeting);
    * a person's verdict not yet released is withdrawn when more speech is transcribed: a
      short answer followed by silence made it a person's, and the callee kept talking;
    * :meth:`decide_on_beep` makes it a machine whatever the words were heard as."""

    def _on_end_of_turn(self, info: Any) -> bool:
        super()._on_end_of_turn(info)  # forwards the end of turn to the classifier
        return not self._closed

    def _on_transcript(self, text: str) -> None:
        classifier = self._classifier
        if classifier is not None and not classifier._emitted:
            pending = classifier._verdict_result
            if pending is not None and pending.is_human:
                classifier._verdict_result = None
        super()._on_transcript(text)

    def decide_on_beep(self) -> None:
        """A beep after a greeting is a mailbox's: settle ``machine-vm`` now, replacing a
        verdict not yet released (an STT that misheard the greeting)."""
        classifier = self._classifier
        if classifier is None or classifier._emitted:
            return
        classifier._verdict_result = None
        classifier.settle(category=AMDCategory.MACHINE_VM, reason=REASON_BEEP)


@dataclass(frozen=True, slots=True)
class AMDOutcome:
    """What screening decided: ``category`` (livekit's verdict), ``greet`` (True: go on
    with the greeting), ``end_reason`` (the close reason when the call is to end),
    ``beep_heard``, ``message_left``."""

    category: AMDCategory
    greet: bool
    end_reason: str = ""
    beep_heard: bool = False
    message_left: bool = False


def classifier_llm(session: AgentSession[Any]) -> llm.LLM[Any]:
    """The session's LLM when it is a real ``llm.LLM`` (not a local stand-in), else the
    keyword classifier."""
    from omnivoice_rtc.pipelines.llm_adapter import LLMProviderAdapter
    from omnivoice_rtc.pipelines.local.responder import RulesResponderLLM

    model = session.llm
    if isinstance(model, llm.LLM) and not isinstance(model, RulesResponderLLM | LLMProviderAdapter):
        return model
    return KeywordAMDLLM()


def _audio_track(participant: rtc.RemoteParticipant) -> rtc.Track | None:
    for publication in participant.track_publications.values():
        if publication.kind == rtc.TrackKind.KIND_AUDIO and publication.track is not None:
            return publication.track
    return None


async def wait_for_beep(participant: rtc.RemoteParticipant, heard: asyncio.Event) -> None:
    """Read ``participant``'s audio track until a beep; then set ``heard``. Runs until
    cancelled when there is no beep (or no track yet: it polls every 0.1 s)."""
    track = _audio_track(participant)
    while track is None:
        await asyncio.sleep(0.1)
        track = _audio_track(participant)
    detector = BeepDetector(sample_rate_hz=BEEP_SAMPLE_RATE_HZ)
    stream = rtc.AudioStream.from_track(track=track, sample_rate=BEEP_SAMPLE_RATE_HZ)
    try:
        async for event in stream:
            if detector.feed(bytes(event.frame.data)):
                logger.info("answering machine beep heard", extra={"tone_hz": detector.tone_hz})
                heard.set()
                return
    finally:
        await stream.aclose()


async def screen_call(
    *,
    session: AgentSession[Any],
    participant: rtc.RemoteParticipant,
    settings: AnsweringMachineSettings,
    speak: Speak,
    greet: Greet,
) -> AMDOutcome:
    """Classify who answered ``participant``'s call, then ``greet`` a person or leave a
    machine the voicemail message with ``speak`` (see the module docstring). Call it once
    the call is answered; the caller ends the call when the outcome's ``greet`` is
    False."""
    # AMD waits for this itself (5 s, then "uncertain"); the beep reader needs it too
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(TRACK_WAIT_S):
            while _audio_track(participant) is None:  # noqa: ASYNC110 -- reason: no event for a subscription of this participant only
                await asyncio.sleep(0.05)
    beep = asyncio.Event()
    beep_task = asyncio.create_task(wait_for_beep(participant, beep), name="omnivoice.amd_beep")
    try:
        screening = _ScreeningAMD(
            session,
            llm=classifier_llm(session),
            stt=None,  # the session's own transcripts
            interrupt_on_machine=True,
            ivr_detection=False,
            participant_identity=participant.identity,
            suppress_compatibility_warning=True,
            detection_options={
                "timeout": settings.timeout_s,
                "human_silence_threshold": HUMAN_SILENCE_S,
            },
        )
        async with screening as detector:
            logger.debug("answering machine detection started")
            await _listen_on_carrier_call(detector, participant)
            verdict = await _verdict_or_beep(screening, beep)
            _log_verdict(verdict, participant)
            if not verdict.is_machine:
                await greet()  # still inside AMD: the callee's answer gets no reply meanwhile
                return AMDOutcome(category=verdict.category, greet=True)
            if verdict.category is AMDCategory.MACHINE_UNAVAILABLE or not settings.leaves_message:
                return AMDOutcome(
                    category=verdict.category, greet=False, end_reason=REASON_ANSWERING_MACHINE
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(settings.beep_timeout_s):
                    await beep.wait()
            if not beep.is_set():
                logger.info("no beep heard; leaving the message anyway")
            # still inside AMD: turns of the machine's greeting get no reply meanwhile
            await speak(settings.voicemail_message)
            return AMDOutcome(
                category=verdict.category,
                greet=False,
                end_reason=REASON_VOICEMAIL,
                beep_heard=beep.is_set(),
                message_left=True,
            )
    finally:
        beep_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beep_task


async def _verdict_or_beep(detector: _ScreeningAMD, beep: asyncio.Event) -> AMDPredictionEvent:
    """AMD's verdict; a beep heard before it decides a machine (``machine-vm``, reason
    :data:`REASON_BEEP`): a greeting the STT misheard still gets the message."""
    verdict = asyncio.create_task(detector.execute(), name="omnivoice.amd_verdict")
    beep_heard = asyncio.create_task(beep.wait(), name="omnivoice.amd_beep_heard")
    try:
        await asyncio.wait({verdict, beep_heard}, return_when=asyncio.FIRST_COMPLETED)
        if not verdict.done():
            logger.info("beep before a verdict: an answering machine")
            detector.decide_on_beep()
        return await verdict
    finally:
        for task in (verdict, beep_heard):
            task.cancel()
        await asyncio.gather(verdict, beep_heard, return_exceptions=True)


async def _listen_on_carrier_call(detector: AMD, participant: rtc.RemoteParticipant) -> None:
    """A carrier call's participant is of kind SIP (the shim's token says so, for the
    agents' sake) but has no ``sip.callStatus``: AMD would wait for that attribute to turn
    ``active`` for ever. Its media stream has started, so it is answered: listen now."""
    if _SIP_STATUS in participant.attributes:
        return  # a livekit-sip call: AMD waits for the answer itself
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETUP_WAIT_S):
            while (setup := detector._setup_task) is not None and not setup.done():  # noqa: ASYNC110 -- reason: AMD's own task; waiting on it directly would take its result
                await asyncio.sleep(0.02)
    if detector._sip_answer_task is not None:
        detector._sip_answer_task.cancel()
    if detector.pending and not detector.started:
        detector._start_listening()


def _log_verdict(verdict: AMDPredictionEvent, participant: rtc.RemoteParticipant) -> None:
    logger.info(
        "answering machine detection verdict",
        extra={
            "category": verdict.category.value,
            "reason": verdict.reason,
            "speech_duration_s": round(verdict.speech_duration, 2),
            **pii(participant=participant.identity, transcript=verdict.transcript),
        },
    )
