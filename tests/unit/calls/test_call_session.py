"""CallSession's accounting: a phone call's transcript and metrics from relayed events,
then the agent's own final report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from omnivoice_rtc._errors import UnsupportedActionError
from omnivoice_rtc.calls.call_session import CallSession
from omnivoice_rtc.calls.control import DEFAULT_TRANSFER_LINE, Capabilities, TransferTarget
from omnivoice_rtc.conversation import build_tool_call
from omnivoice_rtc.livekit.data_topics import ControlCommand
from omnivoice_rtc.types import (
    AgentTranscript,
    CallInfo,
    ErrorDetail,
    Event,
    EventType,
    Interruption,
    Metrics,
    RawData,
    SessionEnded,
    SpeechEnded,
    Turn,
    UserTranscript,
)

pytestmark = pytest.mark.unit


class _Call(CallSession):
    def __init__(self) -> None:
        start = datetime.now(UTC) - timedelta(seconds=5)
        super().__init__(call=CallInfo(call_id="CA1", from_="+1", to="+2", start_time=start))
        self.sent: list[ControlCommand] = []

    async def _send_control(self, command: ControlCommand) -> None:
        self.sent.append(command)

    async def _hangup(self) -> None:
        self.mark_closed("hangup")

    def _audio_bytes(self) -> tuple[int, int]:
        return 8000, 4000


def test_local_transcript_and_metrics_from_the_relayed_events() -> None:
    call = _Call()
    weather = build_tool_call(name="get_weather", arguments='{"city": "Paris"}', result="sunny")
    for event in (
        Event(type=EventType.USER_SPEECH_END, data=SpeechEnded(duration_ms=1200)),
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="weather?")),
        Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="wea", final=False)),
        Event(type=EventType.TOOL_CALL, data=weather),
        Event(type=EventType.AGENT_SPEECH_END, data=SpeechEnded(duration_ms=900)),
        Event(type=EventType.AGENT_TRANSCRIPT, data=AgentTranscript(text="Sunny.")),
        Event(type=EventType.AGENT_TRANSCRIPT, data=AgentTranscript(text="")),  # nothing said
        Event(type=EventType.INTERRUPTION, data=Interruption(text="")),
        Event(type=EventType.ERROR, data=ErrorDetail(source="stt"), error="x"),
    ):
        call.on_event(event)
    turns = call.transcript()
    assert [(t.role, t.text) for t in turns] == [("user", "weather?"), ("agent", "Sunny.")]
    assert turns[1].tool_calls == [weather]
    m = call.metrics()
    assert (m.turn_count, m.tool_call_count, m.interruption_count, m.error_count) == (2, 1, 1, 1)
    assert (m.user_speech_duration_ms, m.agent_speech_duration_ms) == (1200, 900)
    assert (m.audio_bytes_received, m.audio_bytes_sent) == (8000, 4000)  # the route's counts
    assert m.session_duration_ms >= 5000


def test_the_agents_final_report_replaces_what_was_counted() -> None:
    call = _Call()
    call.on_event(Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi")))
    report = SessionEnded(
        reason="participant_disconnected",
        metrics=Metrics(turn_count=7, audio_bytes_sent=1),
        transcript=(Turn(role="user", text="pizza"),),
    )
    call.on_event(Event(type=EventType.SESSION_ENDED, data=report))
    assert call.metrics() == report.metrics
    assert [t.text for t in call.transcript()] == ["pizza"]


def test_a_session_ended_without_a_report_keeps_the_local_counts() -> None:
    call = _Call()
    call.on_event(Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi")))
    call.on_event(Event(type=EventType.SESSION_ENDED, data=RawData({"reason": "gone"})))
    assert call.metrics().turn_count == 1
    assert [t.text for t in call.transcript()] == ["hi"]


async def test_the_duration_stops_when_the_call_ends() -> None:
    call = _Call()
    await call.close()
    assert call.end_reason == "hangup"
    first = call.metrics().session_duration_ms
    assert first >= 5000
    assert call.metrics().session_duration_ms == first


class _Controlled(_Call):
    """A route that supports everything and records what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.transfers: list[tuple[str, str]] = []
        self.digits: list[str] = []

    def _capabilities(self) -> Capabilities:
        return Capabilities.of("twilio")

    async def _transfer(self, target: TransferTarget) -> None:
        self.transfers.append((target.kind, target.value))

    async def _send_dtmf(self, digits: str) -> None:
        self.digits.append(digits)

    async def _hangup(self) -> None:  # as the routes do: the reason set first wins
        self.mark_closed(self.end_reason or "hangup")


async def test_transfer_has_the_agent_say_the_line_first_then_transfers() -> None:
    call = _Controlled()

    sent = call.sent

    class _Speaks(list[ControlCommand]):
        def append(self, command: ControlCommand) -> None:  # the agent says it at once
            super().append(command)
            asyncio.get_running_loop().call_soon(
                call.on_event, Event(type=EventType.AGENT_SPEECH_END)
            )

    call.sent = _Speaks(sent)
    await call.transfer("sip:desk@pbx.example.com")
    assert call.sent == [ControlCommand(type="speak", text=DEFAULT_TRANSFER_LINE)]
    assert call.transfers == [("sip", "sip:desk@pbx.example.com")]
    await call.transfer("+15550100", say="")  # no line: straight to the transfer
    assert call.transfers[-1] == ("number", "+15550100")
    assert len(call.sent) == 1
    with pytest.raises(ValueError, match=r"E\.164"):
        await call.transfer("nowhere")


async def test_hold_resume_dtmf_and_hangup_with_a_reason() -> None:
    call = _Controlled()
    await call.hold()
    await call.resume()
    assert [c.type for c in call.sent] == ["hold", "resume"]
    await call.send_dtmf("12#")
    assert call.digits == ["12#"]
    with pytest.raises(ValueError, match="dtmf"):
        await call.send_dtmf("1x")
    await call.hangup("caller_asked")
    assert call.end_reason == "caller_asked"
    await call.hangup("again")  # closed: nothing
    assert call.end_reason == "caller_asked"


async def test_a_session_without_call_control_says_so() -> None:
    call = _Call()
    assert call.capabilities.supported == frozenset()
    with pytest.raises(UnsupportedActionError, match="no call control"):
        await call.hold()
