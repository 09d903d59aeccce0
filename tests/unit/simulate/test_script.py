"""The simulated caller's script against a scripted agent: the report's transcript,
reply latency, barge-in and DTMF results, and the problems it names."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.simulate.observer import CallObserver
from omnivoice_rtc.simulate.script import ScriptOptions, SimulationReport, run_script
from omnivoice_rtc.simulate.speech import read_wav
from omnivoice_rtc.types import (
    AgentTranscript,
    Dtmf,
    Event,
    EventType,
    Interruption,
    UserTranscript,
)

pytestmark = pytest.mark.unit

RATE = 8000
SPEECH = bytes(2 * RATE // 2)  # 0.5 s


class _Phone:
    """A phone whose agent answers 0.3 s after the caller stops, as events and audio."""

    def __init__(self, observer: CallObserver, *, keys_heard: bool, interrupts: bool) -> None:
        self.observer = observer
        self.keys_heard = keys_heard
        self.interrupts = interrupts
        self.loud_at: list[float] = []
        self.said: list[float] = []
        self.tasks: list[asyncio.Task[None]] = []

    @property
    def rate_hz(self) -> int:
        return RATE

    async def say(self, pcm: bytes, rate_hz: int, *, wait: bool = True) -> float:
        onset = time.monotonic()
        self.said.append(onset)
        if len(self.said) == 1:
            self.tasks.append(asyncio.ensure_future(self._answer(onset + len(pcm) / 2 / rate_hz)))
        elif self.interrupts:
            self.observer.add(Event(type=EventType.INTERRUPTION, data=Interruption(text="")))
        if wait:
            await asyncio.sleep(len(pcm) / 2 / rate_hz)
        return onset

    async def _answer(self, speech_end: float) -> None:
        await asyncio.sleep(max(0.0, speech_end - time.monotonic()))
        self.observer.add(Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hello")))
        await asyncio.sleep(0.3)
        self.loud_at.append(time.monotonic())
        self.observer.add(Event(type=EventType.AGENT_SPEECH_START))
        self.observer.add(Event(type=EventType.AGENT_TRANSCRIPT, data=AgentTranscript(text="Hi!")))
        await asyncio.sleep(1.0)
        self.observer.add(Event(type=EventType.AGENT_SPEECH_END))

    async def send_dtmf(self, digit: str) -> None:
        if self.keys_heard:
            self.observer.add(Event(type=EventType.DTMF, data=Dtmf(digit=digit)))

    def first_loud_after(self, at: float) -> float | None:
        return next((t for t in self.loud_at if t >= at), None)

    def received_audio(self) -> tuple[bytes, int]:
        return bytes(RATE * 2), RATE

    def flushed_after(self, at: float) -> float | None:
        return None


async def _run(tmp_path: Path, *, keys_heard: bool, interrupts: bool) -> SimulationReport:
    observer = CallObserver(livekit=LiveKitSettings(), room="call-twilio-CA1", caller="pstn-1")
    observer.add(Event(type=EventType.SESSION_STARTED))
    phone = _Phone(observer, keys_heard=keys_heard, interrupts=interrupts)
    options = ScriptOptions(
        speech=SPEECH,
        speech_rate_hz=RATE,
        barge_in=SPEECH,
        digits="12#",
        reply_wav=tmp_path / "reply.wav",
        barge_in_timeout_s=1.0,
        dtmf_timeout_s=1.0,
    )
    report = SimulationReport(route="twilio", answered=True)
    await run_script(phone, observer, options, report)
    for task in phone.tasks:
        await task
    return report


async def test_a_good_call_reports_transcript_latency_barge_in_and_keys(tmp_path: Path) -> None:
    report = await _run(tmp_path, keys_heard=True, interrupts=True)
    assert report.agent_joined
    assert report.transcript == [("caller", "hello"), ("agent", "Hi!")]
    assert report.reply_latency_ms is not None
    assert report.reply_latency_ms >= 0
    assert report.barge_in.startswith("ok: agent interrupted")
    assert (report.dtmf_sent, report.dtmf_heard) == ("12#", "12#")
    assert report.problems == []
    assert report.ok
    assert read_wav(tmp_path / "reply.wav") == (bytes(RATE * 2), RATE)
    assert report.reply_audio_s == 1.0
    text = "\n".join(report.lines())
    assert "reply latency:" in text
    assert "dtmf:           sent 12#, agent got 12#" in text


async def test_missed_keys_and_an_agent_that_talks_on_are_problems(tmp_path: Path) -> None:
    report = await _run(tmp_path, keys_heard=False, interrupts=False)
    assert report.barge_in == "FAILED: the agent kept talking over the caller"
    assert report.dtmf_heard == ""
    assert report.problems == [
        "barge-in was not honoured",
        "the agent did not get every DTMF digit",
    ]
    assert not report.ok
