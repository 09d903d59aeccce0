"""Backchannels said over a reply give no transcript; the same words otherwise do, and
other speech always does (non-streaming and streaming STTs)."""

from __future__ import annotations

import asyncio
from typing import Any, Never

import pytest
from livekit import rtc
from livekit.agents import APIConnectOptions, stt, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, NOT_GIVEN, NotGivenOr

from omnivoice_rtc.agent.backchannel import BackchannelFilterSTT, is_backchannel

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text", ["Mm-hmm.", "mhm", "Uh-huh", "yeah okay", "I see.", "Got it!"])
def test_acknowledgements_are_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text", ["", "...", "yes please", "stop", "no", "okay but wait", "yeah yeah yeah sure"]
)
def test_other_speech_is_not(text: str) -> None:
    assert not is_backchannel(text)


def _final(text: str) -> stt.SpeechEvent:
    return stt.SpeechEvent(
        type=stt.SpeechEventType.FINAL_TRANSCRIPT,
        alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)],
    )


class _ScriptedSTT(stt.STT[Never]):
    """A fake recognizer: each utterance (or stream) is transcribed as the next text."""

    def __init__(self, texts: list[str], *, streaming: bool) -> None:
        super().__init__(
            capabilities=stt.STTCapabilities(streaming=streaming, interim_results=False)
        )
        self.texts = texts

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        return _final(self.texts.pop(0))

    def stream(
        self,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.RecognizeStream:
        return _ScriptedStream(stt=self, conn_options=conn_options)


class _ScriptedStream(stt.RecognizeStream):
    """Emits one final transcript per flush while texts are left (``end_input`` flushes
    too); counts the frames it was given."""

    def __init__(self, *, stt: _ScriptedSTT, conn_options: APIConnectOptions) -> None:
        super().__init__(stt=stt, conn_options=conn_options)
        self._texts = stt.texts
        self.frames = 0

    async def _run(self) -> None:
        async for item in self._input_ch:
            if isinstance(item, self._FlushSentinel):
                if self._texts:
                    self._event_ch.send_nowait(_final(self._texts.pop(0)))
            else:
                self.frames += 1


def _frame() -> rtc.AudioFrame:
    return rtc.AudioFrame(b"\0\0" * 160, 16000, 1, 160)


async def test_a_backchannel_over_a_reply_gives_no_transcript() -> None:
    replying = [True]
    inner = _ScriptedSTT(["Mm-hmm.", "Stop, please.", "Yeah."], streaming=False)
    wrapped = BackchannelFilterSTT(inner, reply_in_progress=lambda: replying[0])
    buffer: list[rtc.AudioFrame] = [_frame()]
    assert (await wrapped.recognize(buffer)).alternatives[0].text == ""
    assert (await wrapped.recognize(buffer)).alternatives[0].text == "Stop, please."
    replying[0] = False  # the agent is quiet: "Yeah." answers it
    assert (await wrapped.recognize(buffer)).alternatives[0].text == "Yeah."
    assert wrapped.dropped == 1
    assert wrapped.capabilities is inner.capabilities


async def test_a_streaming_stt_is_filtered_the_same_way() -> None:
    inner = _ScriptedSTT(["uh-huh", "what about Tuesday?"], streaming=True)
    wrapped = BackchannelFilterSTT(inner, reply_in_progress=lambda: True)
    stream = wrapped.stream()
    for _ in range(3):
        stream.push_frame(_frame())
    stream.flush()
    stream.push_frame(_frame())
    stream.flush()
    stream.end_input()
    texts: list[Any] = []
    async with asyncio.timeout(5):
        async for event in stream:
            texts.append(event.alternatives[0].text)
    await stream.aclose()
    assert texts == ["what about Tuesday?"]
    assert wrapped.dropped == 1
