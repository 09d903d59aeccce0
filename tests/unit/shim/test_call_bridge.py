"""CallBridge end to end in memory: FakeMediaSocket (the carrier) + FakeCallRoom (the room and
its agent) + VirtualClock (time). No socket, no server, no sleep: every wait is a bounded
number of event-loop turns. The same paths against real WebSockets and livekit-server:
tests/integration/shim/test_media_websocket.py. This file: caller -> room, hang-ups and
teardown, and the harness; room -> caller: test_bridge_playout.py; liveness:
test_bridge_watchdog.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from aiohttp import WebSocketError, WSMessage, WSMsgType
from livekit.rtc.participant import PublishTrackError

from omnivoice_rtc._errors import StackError
from omnivoice_rtc.audio.format import TWILIO, VONAGE, AudioFormat
from omnivoice_rtc.media_streams.messages import (
    Clear,
    Connected,
    Dtmf,
    Mark,
    Media,
    MediaStreamCodec,
    OutboundCommand,
    SendMark,
    SendMedia,
    Start,
    Stop,
)
from omnivoice_rtc.media_streams.twilio import TwilioCodec
from omnivoice_rtc.media_streams.vonage import VonageCodec
from omnivoice_rtc.settings import CallSettings
from omnivoice_rtc.shim.audio_path import InboundAudio, OutboundAudio
from omnivoice_rtc.shim.call_bridge import BridgeHooks, BridgeTiming, CallBridge
from omnivoice_rtc.shim.call_room import RoomCallbacks
from omnivoice_rtc.shim.policy import MediaPolicy
from omnivoice_rtc.types import CallInfo, Event, EventType
from tests.fakes.fake_call_room import FakeCallRoom
from tests.fakes.media_socket import FakeMediaSocket
from tests.fakes.virtual_time import SleepingClock

pytestmark = pytest.mark.unit

MULAW_20MS = b"\xff" * 160
"""20 ms of μ-law silence at 8 kHz (Twilio)."""


def _agent_pcm(ms: int, rate_hz: int = 8000) -> bytes:
    """Agent speech stand-in: a 440 Hz tone, PCM16 mono."""
    t = np.arange(rate_hz * ms // 1000) / rate_hz
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()


async def until(predicate: Callable[[], bool], *, turns: int = 2000) -> None:
    """Let the event loop run until ``predicate`` holds (at most ``turns`` turns, no sleep)."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met within the event-loop turns allowed")


async def settle(turns: int = 50) -> None:
    """Let every ready task run (to check that something did NOT happen)."""
    for _ in range(turns):
        await asyncio.sleep(0)


@dataclass
class Call:
    """One bridged call: the test is the carrier (``ws``), the agent (``room``) and time."""

    ws: FakeMediaSocket
    room: FakeCallRoom
    clock: SleepingClock
    bridge: CallBridge
    codec: MediaStreamCodec
    run: asyncio.Task[str]
    events: list[Event] = field(default_factory=list)
    closed_reasons: list[str] = field(default_factory=list)
    hangups: list[str] = field(default_factory=list)

    def send(self, message: Media | Dtmf | Mark | Stop | Start | Connected) -> None:
        """The carrier sends ``message``."""
        frame = self.codec.serialize(message)
        if isinstance(frame, bytes):
            self.ws.feed_bytes(frame)
        else:
            self.ws.feed_text(frame)

    def sent(self) -> list[OutboundCommand]:
        """What the shim sent to the carrier, parsed back with the carrier's codec."""
        return [self.codec.parse_command(frame) for frame in self.ws.sent]

    def media_out(self) -> list[bytes]:
        return [c.payload for c in self.sent() if isinstance(c, SendMedia)]

    def marks_out(self) -> list[str]:
        return [c.name for c in self.sent() if isinstance(c, SendMark)]

    def clears_out(self) -> int:
        return sum(isinstance(c, Clear) for c in self.sent())

    async def finished(self) -> str:
        return await asyncio.wait_for(self.run, 5)


def _make_call(
    *,
    policy: MediaPolicy | None = None,
    codec: MediaStreamCodec | None = None,
    carrier_format: AudioFormat = TWILIO,
    hangup: bool = True,
    hold_join: bool = False,
    liveness: CallSettings | None = None,
) -> Call:
    ws = FakeMediaSocket()
    callbacks = RoomCallbacks()
    room = FakeCallRoom(callbacks=callbacks)
    if hold_join:
        room.hold_join()
    clock = SleepingClock()
    codec = codec or TwilioCodec(stream_id="MZ1")
    rate = carrier_format.sample_rate
    events: list[Event] = []
    closed_reasons: list[str] = []
    hangups: list[str] = []

    async def hang_up() -> None:
        hangups.append("rest")

    bridge = CallBridge(
        ws=ws,
        codec=codec,
        call=CallInfo(call_id="CA1", from_="+15550100", to="+15550199", carrier="twilio"),
        inbound=InboundAudio(carrier_format=carrier_format, room_rate_hz=rate),
        outbound=OutboundAudio(carrier_format=carrier_format, room_rate_hz=rate),
        room=room,
        policy=policy or MediaPolicy(),
        hooks=BridgeHooks(
            on_event=events.append,
            hangup=hang_up if hangup else None,
            on_closed=closed_reasons.append,
        ),
        timing=BridgeTiming(clock=clock, sleep=clock.sleep, liveness=liveness or CallSettings()),
    )
    bridge.wire(callbacks)
    run = asyncio.ensure_future(bridge.run())
    return Call(ws, room, clock, bridge, codec, run, events, closed_reasons, hangups)


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    """A Twilio call whose room is joined and whose agent is in the room, listening."""
    c = _make_call()
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    c.room.agent_joins(state="listening")
    try:
        yield c
    finally:
        if not c.run.done():
            c.ws.feed_close()
            await c.finished()


def _handled(call: Call) -> int:
    """Caller media frames the bridge has decided about."""
    c = call.bridge.counters
    return c.frames_in + c.dropped_too_fast + c.dropped_before_room + c.dropped_wrong_size


async def _real_time(call: Call, frames: int, payload: bytes = MULAW_20MS) -> None:
    """The carrier sends ``frames`` frames 20 ms apart (each handled before the next)."""
    for _ in range(frames):
        call.clock.advance(0.020)
        before = _handled(call)
        call.send(Media(payload=payload))
        await until(lambda: _handled(call) > before)  # noqa: B023  # reason: awaited in this iteration


# --------------------------------------------------------------------------- caller -> room


async def test_caller_audio_reaches_the_room_as_pcm16(call: Call) -> None:
    await _real_time(call, 5)
    await until(lambda: len(call.room.caller_audio) == 5)
    assert {len(pcm) for pcm in call.room.caller_audio} == {320}  # 160 samples of PCM16
    counters = call.bridge.counters
    assert (counters.frames_in, counters.bytes_in, counters.frames_late) == (5, 800, 0)


async def test_a_stream_faster_than_real_time_is_cut_then_recovers() -> None:
    c = _make_call(policy=MediaPolicy(burst_ms=200))
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    for _ in range(50):  # one second of audio at one instant
        c.send(Media(payload=MULAW_20MS))
    counters = c.bridge.counters
    await until(lambda: counters.frames_in + counters.dropped_too_fast == 50)
    assert (counters.frames_in, counters.dropped_too_fast) == (10, 40)  # 200 ms of burst
    c.clock.advance(0.100)  # real time refills 100 ms
    for _ in range(10):
        c.send(Media(payload=MULAW_20MS))
    await until(lambda: counters.frames_in + counters.dropped_too_fast == 60)
    assert (counters.frames_in, counters.dropped_too_fast) == (15, 45)
    await until(lambda: len(c.room.caller_audio) == 15)
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"


async def test_a_gap_counts_a_late_frame(call: Call) -> None:
    await _real_time(call, 2)
    assert call.bridge.counters.frames_late == 0
    call.clock.advance(0.100)  # 120 ms after the previous frame: late (> 60 ms)
    await _real_time(call, 1)
    assert call.bridge.counters.frames_in == 3
    assert call.bridge.counters.frames_late == 1


async def test_audio_during_the_join_is_counted_and_digits_wait_for_the_room() -> None:
    c = _make_call(hold_join=True)
    for _ in range(3):
        c.send(Media(payload=MULAW_20MS))
    c.send(Dtmf(digit="3"))
    counters = c.bridge.counters
    await until(lambda: counters.dtmf_in == 1)
    assert counters.dropped_before_room == 3
    assert c.room.caller_digits == []
    assert not c.bridge.relaying.is_set()
    c.room.finish_join()
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    await until(lambda: c.room.caller_digits == ["3"])
    await _real_time(c, 1)
    await until(lambda: len(c.room.caller_audio) == 1)
    assert counters.frames_in == 1
    assert counters.dropped_too_fast == 0
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"


async def test_caller_digits_reach_the_room_and_bad_digits_are_counted(call: Call) -> None:
    call.send(Dtmf(digit="5"))
    call.send(Dtmf(digit="x"))
    call.send(Dtmf(digit="#"))
    await until(lambda: call.bridge.counters.dtmf_in == 3)
    await until(lambda: len(call.room.caller_digits) == 2)
    assert call.room.caller_digits == ["5", "#"]
    assert call.bridge.counters.dropped_invalid == 1


async def test_invalid_frames_close_1007_at_the_limit() -> None:
    c = _make_call(policy=MediaPolicy(max_invalid_frames=3))
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    c.ws.feed_text("{not json")
    c.ws.feed_text('{"event":"media"}')
    await until(lambda: c.bridge.counters.dropped_invalid == 2)
    assert not c.ws.closed  # below the limit: counted, the stream goes on
    c.ws.feed_text("[]")
    assert await c.finished() == "policy_invalid_frames"
    assert (c.ws.close_code, c.ws.close_message) == (1007, b"too many invalid frames")
    assert c.bridge.counters.dropped_invalid == 3
    assert c.hangups == []  # a policy close is not a hang-up from our side


async def test_wrong_size_frames_are_counted_and_the_stream_goes_on() -> None:
    codec = VonageCodec(sample_rate=16000)
    c = _make_call(codec=codec, carrier_format=VONAGE)
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    c.ws.feed_bytes(bytes(100))  # Vonage frames are exactly 640 bytes: FrameSizeError
    c.clock.advance(0.020)
    c.ws.feed_bytes(bytes(640))
    counters = c.bridge.counters
    await until(lambda: counters.frames_in == 1)
    assert counters.dropped_wrong_size == 1
    assert counters.dropped_invalid == 0
    assert c.ws.close_code is None
    await until(lambda: len(c.room.caller_audio) == 1)
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"


async def test_a_second_start_closes_1008(call: Call) -> None:
    call.send(
        Start(call_id="CA1", stream_id="MZ1", media_format=TWILIO, wire_encoding="audio/x-mulaw")
    )
    assert await call.finished() == "policy_second_start"
    assert (call.ws.close_code, call.ws.close_message) == (1008, b"second start")
    assert call.ws.closed_by == "shim"


async def test_an_oversized_frame_ends_the_call_with_its_reason(call: Call) -> None:
    # what aiohttp's receive() yields after it closed the socket with 1009 itself
    too_big = WebSocketError(1009, "Message size 70000 exceeds limit 65536")
    call.ws._inbox.put_nowait(
        WSMessage(WSMsgType.ERROR, too_big, None)
    )  # reason: no feed_ helper for ERROR
    assert await call.finished() == "policy_frame_too_big"
    assert call.hangups == []


# --------------------------------------------------------------------------- hang-ups and teardown


async def test_carrier_stop_ends_the_call_without_a_rest_hangup(call: Call) -> None:
    call.send(Stop())
    assert await call.finished() == "carrier_stop"
    assert call.closed_reasons == ["carrier_stop"]
    assert call.hangups == []
    assert (call.ws.close_code, call.ws.closed_by) == (1000, "shim")
    assert call.room.aclose_calls == 1
    assert call.bridge.closed


async def test_carrier_hangup_during_the_join_cancels_it() -> None:
    c = _make_call(hold_join=True)
    await until(lambda: c.room.start_calls == 1)
    c.ws.feed_close()
    assert await c.finished() == "carrier_hangup"
    assert not c.room.joined.is_set()
    assert c.room.aclose_calls == 1
    assert c.hangups == []


@pytest.mark.parametrize(
    "error",
    [
        OSError("connection refused"),
        StackError("omnivoice-media: join failed: bad token"),
        # seen in the 1,000-call soak (rtc): joined, then the caller's track timed out
        PublishTrackError("engine: internal error: track publication timed out"),
    ],
)
async def test_a_failed_join_ends_the_call_as_an_error(error: Exception) -> None:
    c = _make_call(hold_join=True)
    c.room.join_error = error
    c.room.finish_join()
    assert await c.finished() == "error"
    assert c.ws.close_code == 1000
    assert c.room.aclose_calls == 1
    assert c.closed_reasons == ["error"]


async def test_agent_ending_its_session_and_leaving_hangs_up_over_rest_and_closes_the_stream(
    call: Call,
) -> None:
    call.room.agent_event(Event(type=EventType.SESSION_ENDED))  # it ended the conversation
    call.room.agent_leaves()
    assert await call.finished() == "agent_left"
    assert call.room.dispatches == []  # no fresh agent for a conversation that is over
    assert call.hangups == ["rest"]
    assert (call.ws.close_code, call.ws.closed_by) == (1000, "shim")
    assert call.closed_reasons == ["agent_left"]


async def test_losing_the_room_hangs_up() -> None:
    c = _make_call(hangup=False)
    await asyncio.wait_for(c.bridge.relaying.wait(), 5)
    c.room.disconnect()
    assert await c.finished() == "room_disconnected"
    assert (c.ws.close_code, c.ws.closed_by) == (1000, "shim")


async def test_teardown_happens_once_whoever_ends_the_call(call: Call) -> None:
    ending = [asyncio.ensure_future(call.bridge.end("session_closed")) for _ in range(2)]
    call.room.agent_leaves()  # a third reason to end, while ending: ignored
    await asyncio.wait_for(asyncio.gather(*ending), 5)
    assert await call.finished() == "session_closed"
    await call.bridge.end("again")  # after the end: returns at once
    assert call.hangups == ["rest"]
    assert call.closed_reasons == ["session_closed"]
    assert call.room.aclose_calls == 1
    ran: list[bool] = []

    async def late() -> None:
        ran.append(True)

    call.bridge.spawn(late())  # a closed bridge runs nothing more
    await settle()
    assert ran == []
