"""What a simulated caller does once the call is up, on any route, and what it reports.

:func:`run_script` plays the caller's speech into the call, waits for the agent's
answer (its transcript events through a :class:`~.observer.CallObserver`, its audio at
the phone), talks over the answer to test barge-in, presses keys, and returns a
:class:`SimulationReport`. The phone is the route's side of the call
(:class:`SimulatedPhone`: a carrier media stream or an RTP peer).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from omnivoice_rtc.simulate.observer import CallObserver
from omnivoice_rtc.types import Dtmf, EventType

__all__ = ["ScriptOptions", "SimulatedPhone", "SimulationReport", "run_script"]

_AGENT_START_TIMEOUT_S: Final = 90.0
_TRANSCRIPT_TIMEOUT_S: Final = 45.0
_REPLY_TIMEOUT_S: Final = 60.0
_GREETING_WINDOW_S: Final = 3.0
_BARGE_IN_DELAY_S: Final = 0.4
_DTMF_GAP_S: Final = 0.4


class SimulatedPhone(Protocol):
    """The caller's end of a simulated call (audio in and out, keys)."""

    @property
    def rate_hz(self) -> int:
        """The phone's audio rate (Hz)."""

    async def say(self, pcm: bytes, rate_hz: int, *, wait: bool = True) -> float:
        """Play PCM16 speech; returns the monotonic time (s) its first frame went out."""

    async def send_dtmf(self, digit: str) -> None: ...

    def first_loud_after(self, at: float) -> float | None:
        """Arrival (monotonic s) of the first non-silent agent audio after ``at``."""

    def received_audio(self) -> tuple[bytes, int]:
        """Everything the agent sent, as PCM16 mono and its rate (Hz)."""

    def flushed_after(self, at: float) -> float | None:
        """When the route flushed the phone's playback after ``at`` (carrier ``clear``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptOptions:
    """The caller's part: ``speech`` (PCM16 at ``speech_rate_hz``), the barge-in
    utterance (None: no barge-in test), DTMF ``digits``, where to save the agent's audio."""

    speech: bytes
    speech_rate_hz: int
    barge_in: bytes | None = None
    digits: str = ""
    reply_wav: Path | None = None
    barge_in_timeout_s: float = 15.0
    """How long the agent may keep talking over the caller before barge-in failed (s)."""
    dtmf_timeout_s: float = 10.0
    """How long after the last key the agent may take to report every digit (s)."""


@dataclass(slots=True, kw_only=True)
class SimulationReport:
    """What happened on a simulated call; times in ms, audio in s."""

    route: str
    call_id: str = ""
    room: str = ""
    answered: bool = False
    refused: str = ""
    """Why the call was not answered (webhook status, SIP status); empty when answered."""
    agent_joined: bool = False
    greeting: str = ""
    transcript: list[tuple[str, str]] = field(default_factory=list)
    reply_latency_ms: int | None = None
    """End of the caller's speech -> first non-silent agent audio at the phone (ms)."""
    reply_audio_s: float = 0.0
    reply_wav: str = ""
    barge_in: str = "not tested"
    dtmf_sent: str = ""
    dtmf_heard: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Answered, the agent replied, and every requested check passed."""
        return self.answered and self.reply_latency_ms is not None and not self.problems

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        out = [f"route:          {self.route}"]
        if not self.answered:
            out.append(f"call:           refused ({self.refused})")
            return out
        out.append(f"call:           answered (call {self.call_id}, room {self.room})")
        out.append(f"agent:          {'joined' if self.agent_joined else 'never joined'}")
        if self.greeting:
            out.append(f"greeting:       {self.greeting}")
        out.append("transcript:")
        out += [f"  {who}: {text}" for who, text in self.transcript] or ["  (nothing)"]
        latency = "no answer" if self.reply_latency_ms is None else f"{self.reply_latency_ms} ms"
        out.append(f"reply latency:  {latency} (end of caller speech -> agent audio)")
        out.append(
            f"reply audio:    {self.reply_audio_s:.1f} s -> {self.reply_wav or '(not saved)'}"
        )
        out.append(f"barge-in:       {self.barge_in}")
        if self.dtmf_sent:
            out.append(
                f"dtmf:           sent {self.dtmf_sent}, agent got {self.dtmf_heard or '(none)'}"
            )
        out += [f"problem:        {p}" for p in self.problems]
        return out


async def _wait_agent(observer: CallObserver, report: SimulationReport) -> None:
    deadline = time.monotonic() + _AGENT_START_TIMEOUT_S
    started = 0.0
    while not started:
        if observer.since(0.0) and any(
            e.type is EventType.SESSION_STARTED for e in observer.since(0.0)
        ):
            started = next(t for t, e in observer.events if e.type is EventType.SESSION_STARTED)
        elif observer.agent_present:  # joined before we did: its session_started was missed
            await asyncio.sleep(1.0)
            started = time.monotonic()
        elif time.monotonic() >= deadline:
            report.problems.append(f"the agent did not start within {_AGENT_START_TIMEOUT_S:g} s")
            return
        else:
            await asyncio.sleep(0.1)
    report.agent_joined = True
    with contextlib.suppress(TimeoutError):  # a greeting: let it finish first
        await observer.wait_for(
            EventType.AGENT_SPEECH_START, since=started, timeout_s=_GREETING_WINDOW_S
        )
        await observer.wait_for(EventType.AGENT_SPEECH_END, since=started, timeout_s=30)
        said = observer.transcript(since=started)
        report.greeting = " ".join(text for who, text in said if who == "agent")


async def _barge_in(
    phone: SimulatedPhone, observer: CallObserver, options: ScriptOptions, reply_at: float
) -> str:
    """Talk over the agent's answer; say whether the agent stopped."""
    await asyncio.sleep(max(0.0, reply_at + _BARGE_IN_DELAY_S - time.monotonic()))
    if observer.since(reply_at) and any(
        e.type is EventType.AGENT_SPEECH_END for e in observer.since(reply_at)
    ):
        return "not tested (the answer ended before the caller could talk over it)"
    if options.barge_in is None:
        return "not tested"
    onset = await phone.say(options.barge_in, options.speech_rate_hz, wait=False)
    try:
        at, _ = await observer.wait_for(
            EventType.INTERRUPTION, since=onset - 0.05, timeout_s=options.barge_in_timeout_s
        )
    except TimeoutError:
        return "FAILED: the agent kept talking over the caller"
    flushed = phone.flushed_after(onset)
    flush = f", playback flushed after {1000 * (flushed - onset):.0f} ms" if flushed else ""
    return f"ok: agent interrupted {1000 * (at - onset):.0f} ms after the caller spoke{flush}"


async def _dtmf(
    phone: SimulatedPhone, observer: CallObserver, digits: str, *, timeout_s: float
) -> str:
    since = time.monotonic()
    for digit in digits:
        await phone.send_dtmf(digit)
        await asyncio.sleep(_DTMF_GAP_S)

    def heard() -> str:
        return "".join(e.data.digit for e in observer.since(since) if isinstance(e.data, Dtmf))

    with contextlib.suppress(TimeoutError):
        await observer.wait_for(
            EventType.DTMF,
            since=since,
            timeout_s=timeout_s,
            where=lambda _e: len(heard()) >= len(digits),
        )
    return heard()


async def run_script(
    phone: SimulatedPhone, observer: CallObserver, options: ScriptOptions, report: SimulationReport
) -> SimulationReport:
    """Play the caller's part on an answered call and fill ``report``."""
    await _wait_agent(observer, report)
    if not report.agent_joined:
        return report
    began = time.monotonic()
    onset = await phone.say(options.speech, options.speech_rate_hz)
    speech_end = onset + len(options.speech) / 2 / options.speech_rate_hz
    try:
        await observer.wait_for(
            EventType.USER_TRANSCRIPT, since=onset, timeout_s=_TRANSCRIPT_TIMEOUT_S
        )
        reply_at, _ = await observer.wait_for(
            EventType.AGENT_SPEECH_START, since=onset, timeout_s=_REPLY_TIMEOUT_S
        )
    except TimeoutError:
        report.problems.append("the agent did not answer the caller's speech")
    else:
        heard = phone.first_loud_after(speech_end)
        deadline = time.monotonic() + 10
        while heard is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            heard = phone.first_loud_after(speech_end)
        if heard is None:
            report.problems.append("the agent's answer never reached the phone as audio")
        else:
            report.reply_latency_ms = round(1000 * (heard - speech_end))
        if options.barge_in is not None:
            report.barge_in = await _barge_in(phone, observer, options, reply_at)
            if report.barge_in.startswith("FAILED"):
                report.problems.append("barge-in was not honoured")
    await observer.wait_quiet(quiet_s=1.5, timeout_s=20)
    if options.digits:
        report.dtmf_sent = options.digits
        report.dtmf_heard = await _dtmf(
            phone, observer, options.digits, timeout_s=options.dtmf_timeout_s
        )
        if report.dtmf_heard != options.digits:
            report.problems.append("the agent did not get every DTMF digit")
    report.transcript = observer.transcript(since=began)
    pcm, rate = phone.received_audio()
    report.reply_audio_s = len(pcm) / 2 / rate if rate else 0.0
    if options.reply_wav is not None:
        from omnivoice_rtc.simulate.speech import write_wav

        write_wav(options.reply_wav, pcm, rate)
        report.reply_wav = str(options.reply_wav)
    return report
