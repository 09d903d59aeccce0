"""RealtimeBridge against the loopback OpenAI Realtime fake (real WebSocket, real plugin).

μ-law 8 kHz in -> livekit-plugins-openai RealtimeModel (base_url = the fake) -> μ-law 8 kHz
out, with events, transcript, metrics, interruption and a function call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
import pytest
from livekit.agents import llm
from livekit.plugins.openai import realtime

from omnivoice_rtc.audio import g711
from omnivoice_rtc.audio.format import OPENAI, TWILIO
from omnivoice_rtc.pipelines.realtime import build_realtime
from omnivoice_rtc.realtime_bridge import RealtimeBridge
from omnivoice_rtc.types import (
    AgentTranscript,
    BridgeConfig,
    ErrorDetail,
    Event,
    EventType,
    FunctionDeclaration,
    Interruption,
    ProcessConfig,
    RealtimeConfig,
    ToolCall,
    UserTranscript,
)
from tests.fakes.gemini_live import GeminiFakeOptions, GeminiLiveFake
from tests.fakes.openai_realtime import FakeToolCall, OpenAIRealtimeFake, RealtimeFakeOptions

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FRAME = 160  # μ-law bytes per 20 ms at 8 kHz


def speech_then_silence(speech_ms: int = 800, silence_ms: int = 900) -> list[bytes]:
    """μ-law 20 ms frames: a voiced-like 300 Hz tone (about -12 dBFS), then digital silence."""
    t = np.arange(8 * speech_ms) / 8000
    voiced = 0.25 * 32767 * np.sin(2 * np.pi * 300 * t)
    pcm = np.concatenate([voiced, np.zeros(8 * silence_ms)]).astype(np.int16)
    ulaw = g711.ulaw_encode(pcm.tobytes())
    return [ulaw[i : i + FRAME] for i in range(0, len(ulaw), FRAME)]


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)
    audio: list[bytes] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def types(self) -> list[EventType]:
        return [e.type for e in self.events]

    async def wait_for(self, kind: EventType, within_s: float = 20.0) -> Event:
        async def poll() -> Event:
            while True:
                for event in self.events:
                    if event.type is kind:
                        return event
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(poll(), within_s)


async def _pump_events(bridge: RealtimeBridge, rec: Recorder) -> None:
    async for event in bridge.events():
        rec.events.append(event)
        rec.changed.set()


async def _pump_audio(bridge: RealtimeBridge, rec: Recorder) -> None:
    async for chunk in bridge.audio_out():
        rec.audio.append(chunk)
        rec.changed.set()


async def _send(bridge: RealtimeBridge, frames: list[bytes]) -> None:
    for frame in frames:
        bridge.send_audio(frame)
        await asyncio.sleep(0.002)  # let the session's send loop run; not a timing assertion


async def _start(
    options: RealtimeFakeOptions, process_config: ProcessConfig | None = None, **kw: object
) -> tuple[
    OpenAIRealtimeFake, RealtimeBridge, Recorder, list[asyncio.Task[None]], realtime.RealtimeModel
]:
    fake = OpenAIRealtimeFake(options)
    await fake.__aenter__()
    model = realtime.RealtimeModel(base_url=fake.base_url, api_key="test")
    if kw:
        bridge = RealtimeBridge(
            config=BridgeConfig(
                provider=model,
                process_config=process_config or ProcessConfig(),
                from_format=TWILIO,
                to_format=OPENAI,
            ),
            **kw,  # type: ignore[arg-type]  # reason: on_function_call passed through
        )
    else:
        bridge = RealtimeBridge.for_twilio(model, process_config)
    rec = Recorder()
    await bridge.start()
    tasks = [
        asyncio.create_task(_pump_events(bridge, rec)),
        asyncio.create_task(_pump_audio(bridge, rec)),
    ]
    return fake, bridge, rec, tasks, model


async def _stop(
    fake: OpenAIRealtimeFake,
    bridge: RealtimeBridge,
    tasks: list[asyncio.Task[None]],
    model: realtime.RealtimeModel,
) -> None:
    await bridge.aclose()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)  # both iterators end on close
    await model.aclose()
    await fake.__aexit__(None, None, None)


async def test_mulaw_in_mulaw_out_with_transcript_events_and_metrics() -> None:
    options = RealtimeFakeOptions(user_transcript="what time is it", reply_text="It is noon.")
    fake, bridge, rec, tasks, model = await _start(
        options, ProcessConfig(instructions="Answer briefly.")
    )
    try:
        frames = speech_then_silence()
        await _send(bridge, frames)
        await rec.wait_for(EventType.AGENT_SPEECH_END)
        await rec.wait_for(EventType.AGENT_TRANSCRIPT)
        while sum(map(len, rec.audio)) < bridge.metrics().audio_bytes_sent:
            rec.changed.clear()
            await asyncio.wait_for(rec.changed.wait(), 10)

        types = rec.types()
        assert types[0] is EventType.SESSION_STARTED
        for kind in (
            EventType.USER_SPEECH_START,
            EventType.USER_SPEECH_END,
            EventType.USER_TRANSCRIPT,
            EventType.AGENT_THINKING,
            EventType.AGENT_SPEECH_START,
            EventType.AGENT_TRANSCRIPT,
            EventType.AGENT_SPEECH_END,
        ):
            assert kind in types, kind
        assert types.index(EventType.USER_SPEECH_START) < types.index(EventType.USER_SPEECH_END)
        assert types.index(EventType.AGENT_SPEECH_START) < types.index(EventType.AGENT_SPEECH_END)
        user = next(e for e in rec.events if e.type is EventType.USER_TRANSCRIPT)
        agent = next(e for e in rec.events if e.type is EventType.AGENT_TRANSCRIPT)
        assert user.data == UserTranscript(text="what time is it", final=True)
        assert agent.data == AgentTranscript(text="It is noon.", interrupted=False)
        assert user.to_dict()["data"] == {"text": "what time is it", "final": True}
        assert agent.to_dict()["data"] == {"text": "It is noon.", "interrupted": False}

        # the instructions reached the model
        updates = [e for e in fake.client_events if e.get("type") == "session.update"]
        assert any("Answer briefly." in str(e) for e in updates)

        # what we sent arrived as 24 kHz PCM16 (3 x 2 bytes per μ-law byte), minus at most
        # the plugin's partial chunk buffering
        sent_ulaw = sum(len(f) for f in frames)
        assert 0.8 * 6 * sent_ulaw <= fake.audio_bytes_received <= 6 * sent_ulaw

        # the reply came back as μ-law 8 kHz, 20 ms frames, same duration as the fake's audio
        reply_pcm24 = sum(r.audio_bytes for r in fake.responses)
        out = b"".join(rec.audio)
        assert all(len(c) == FRAME for c in rec.audio[:-1])
        assert abs(len(out) - reply_pcm24 // 6) <= FRAME
        decoded = np.frombuffer(g711.ulaw_decode(out), dtype=np.int16).astype(np.float64)
        rms = float(np.sqrt(np.mean(decoded**2)))
        assert rms > 0.2 * 0.3 * 32767 / np.sqrt(2)  # the fake's -10 dBFS tone, not silence
        spectrum = np.abs(np.fft.rfft(decoded))
        peak_hz = np.argmax(spectrum) * 8000 / len(decoded)
        assert abs(peak_hz - 440.0) < 10.0  # the fake's 440 Hz tone survived the conversion

        turns = bridge.transcript()
        assert [(t.role, t.text) for t in turns] == [
            ("user", "what time is it"),
            ("agent", "It is noon."),
        ]
        assert turns[1].duration_ms == pytest.approx(reply_pcm24 / 48, abs=25)
        m = bridge.metrics()
        assert m.turn_count == 2
        assert m.audio_bytes_received == sent_ulaw
        assert m.audio_bytes_sent == len(out)
        assert m.agent_speech_duration_ms == turns[1].duration_ms
        assert m.error_count == 0
        assert m.interruption_count == 0
    finally:
        await _stop(fake, bridge, tasks, model)
    assert rec.events[-1].type is EventType.SESSION_ENDED


async def test_interrupt_cancels_the_reply_and_drops_its_audio() -> None:
    long_reply = "This is a long answer that keeps going for quite a while. " * 4
    options = RealtimeFakeOptions(reply_text=long_reply, pacing=1.0)
    fake, bridge, rec, tasks, model = await _start(options)
    try:
        await _send(bridge, speech_then_silence())
        await rec.wait_for(EventType.AGENT_SPEECH_START)
        bridge.interrupt()
        event = await rec.wait_for(EventType.INTERRUPTION)
        assert event.data == Interruption(text="")
        await fake.wait_for_client_event("response.cancel")
        agent = await rec.wait_for(EventType.AGENT_TRANSCRIPT)
        assert agent.data_as(AgentTranscript).interrupted is True
        assert bridge.metrics().interruption_count == 1
        full_reply_ulaw = len(long_reply) * 30 * 8  # tone_ms_per_char at 8 kHz
        assert bridge.metrics().audio_bytes_sent < full_reply_ulaw / 2
    finally:
        await _stop(fake, bridge, tasks, model)


async def test_function_call_runs_the_handler_and_the_model_answers_with_its_output() -> None:
    options = RealtimeFakeOptions(
        user_transcript="weather in Paris?",
        tool_call=FakeToolCall(name="get_weather", arguments={"city": "Paris"}),
        tool_reply="The tool said {output}.",
    )
    calls: list[tuple[str, str, str]] = []

    async def on_call(call_id: str, name: str, arguments: str) -> dict[str, str]:
        calls.append((call_id, name, arguments))
        return {"forecast": "sunny"}

    decl = FunctionDeclaration(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    fake, bridge, rec, tasks, model = await _start(
        options, ProcessConfig(functions=[decl]), on_function_call=on_call
    )
    try:
        await _send(bridge, speech_then_silence())
        tool = await rec.wait_for(EventType.TOOL_CALL)
        call = tool.data_as(ToolCall)
        assert call.name == "get_weather"
        assert call.arguments == {"city": "Paris"}
        assert call.result == '{"forecast": "sunny"}'
        assert calls == [("call_fake_0001", "get_weather", '{"city": "Paris"}')]
        agent = await rec.wait_for(EventType.AGENT_TRANSCRIPT)
        assert "sunny" in agent.data_as(AgentTranscript).text
        assert fake.function_outputs
        assert bridge.metrics().tool_call_count == 1
        assert bridge.transcript()[-1].tool_calls[0].name == "get_weather"
    finally:
        await _stop(fake, bridge, tasks, model)


async def test_for_twilio_gemini_sends_16k_and_plays_the_24k_reply_as_mulaw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = GeminiFakeOptions(user_transcript="book a table", reply_text="Table booked.")
    async with GeminiLiveFake(options) as fake:
        # google-genai dials wss:// and reads SSL_CERT_FILE when its client is created
        monkeypatch.setenv("SSL_CERT_FILE", fake.ca_file)
        parts = build_realtime(
            RealtimeConfig(provider="gemini", api_key="g-test", base_url=fake.base_url)
        )
        assert isinstance(parts.llm, llm.RealtimeModel)
        bridge = RealtimeBridge.for_twilio_gemini(parts.llm, ProcessConfig())
        rec = Recorder()
        await bridge.start()
        tasks = [
            asyncio.create_task(_pump_events(bridge, rec)),
            asyncio.create_task(_pump_audio(bridge, rec)),
        ]
        try:
            await fake.wait_for_server("setupComplete")
            frames = speech_then_silence()
            await _send(bridge, frames)
            user = await rec.wait_for(EventType.USER_TRANSCRIPT)
            agent = await rec.wait_for(EventType.AGENT_TRANSCRIPT)
            await rec.wait_for(EventType.AGENT_SPEECH_END)
        finally:
            await bridge.aclose()
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
            await parts.llm.aclose()
    assert user.data == UserTranscript(text="book a table", final=True)
    assert agent.data == AgentTranscript(text="Table booked.", interrupted=False)
    sent_ulaw = sum(len(f) for f in frames)
    # 16 kHz PCM16 in: 4 bytes per μ-law byte (the plugin may hold back a partial chunk)
    assert 0.8 * 4 * sent_ulaw <= fake.audio_bytes_received <= 4 * sent_ulaw
    reply_pcm24 = sum(t.audio_bytes for t in fake.turns if t.kind == "message")
    out = b"".join(rec.audio)
    assert abs(len(out) - reply_pcm24 // 6) <= FRAME
    decoded = np.frombuffer(g711.ulaw_decode(out), dtype=np.int16).astype(np.float64)
    assert float(np.sqrt(np.mean(decoded**2))) > 1000.0
    assert [(t.role, t.text) for t in bridge.transcript()] == [
        ("user", "book a table"),
        ("agent", "Table booked."),
    ]


async def test_model_error_becomes_an_error_event_and_the_call_goes_on() -> None:
    options = RealtimeFakeOptions(
        user_transcript="are you there",
        reply_text="Yes.",
        error_on={"input_audio_buffer.append": {"message": "bad chunk", "code": "invalid_value"}},
    )
    fake, bridge, rec, tasks, model = await _start(options)
    try:
        await _send(bridge, speech_then_silence())
        error = await rec.wait_for(EventType.ERROR)
        agent = await rec.wait_for(EventType.AGENT_TRANSCRIPT)
    finally:
        await _stop(fake, bridge, tasks, model)
    assert error.data == ErrorDetail(source="realtime", recoverable=True)
    assert error.error
    assert agent.data == AgentTranscript(text="Yes.", interrupted=False)
    assert bridge.metrics().error_count == 1
