"""NativeCallRoom turns omnivoice-media's messages into agent tracking and callbacks.

The messages are fed through a real asyncio StreamReader (what the Unix socket gives); the
room is not started, so no process or server is involved. End to end, with the real
process and livekit-server: tests/integration/shim/test_call_room.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from omnivoice_rtc.livekit.data_topics import EVENTS_TOPIC, encode_event
from omnivoice_rtc.native import NativeMediaProcess
from omnivoice_rtc.native.wire import MessageKind, encode_message, join_header
from omnivoice_rtc.settings import LiveKitSettings
from omnivoice_rtc.shim.native_call_room import NativeCallRoom, NativeMediaOptions
from omnivoice_rtc.shim.rtc_call_room import CallRoomSpec, RoomCallbacks
from omnivoice_rtc.types import Event, EventType, UserTranscript

pytestmark = pytest.mark.unit

CALLER = "pstn-twilio-CA1"


def _msg(kind: MessageKind, body: object) -> bytes:
    return encode_message(kind, json.dumps(body).encode())


async def test_messages_drive_the_agent_link_and_callbacks() -> None:
    got: dict[str, list[object]] = {k: [] for k in ("audio", "dtmf", "event", "state", "left")}
    disconnected = asyncio.Event()
    room = NativeCallRoom(
        spec=CallRoomSpec(
            livekit=LiveKitSettings(),
            room_name="call-twilio-CA1",
            identity=CALLER,
            attributes={},
            agent_name="a",
        ),
        native=NativeMediaOptions(process=NativeMediaProcess(binary="/nonexistent")),
        callbacks=RoomCallbacks(
            on_agent_audio=got["audio"].append,
            on_agent_dtmf=got["dtmf"].append,
            on_event=got["event"].append,
            on_agent_state=lambda old, new: got["state"].append((old, new)),
            on_agent_left=lambda: got["left"].append(True),
            on_disconnected=disconnected.set,
        ),
    )
    event = Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi", final=True))
    stream = b"".join(
        [
            _msg(MessageKind.PARTICIPANT, {"identity": "web", "kind": "standard"}),
            _msg(
                MessageKind.PARTICIPANT,
                {"identity": "agent-1", "kind": "agent", "attributes": {"lk.agent.state": "idle"}},
            ),
            _msg(MessageKind.PARTICIPANT, {"identity": "agent-2", "kind": "agent"}),
            encode_message(MessageKind.AGENT_AUDIO, bytes(320)),
            _msg(
                MessageKind.ATTRIBUTES,
                {"identity": "agent-1", "changed": {"lk.agent.state": "speaking"}},
            ),
            _msg(
                MessageKind.ATTRIBUTES,
                {"identity": "agent-2", "changed": {"lk.agent.state": "idle"}},
            ),
            _msg(MessageKind.DTMF, {"identity": "agent-1", "code": 5}),  # no digit: skipped
            encode_message(MessageKind.DTMF, b"not json"),  # skipped
            _msg(MessageKind.DTMF, {"identity": CALLER, "code": 1, "digit": "1"}),  # our own echo
            _msg(MessageKind.DTMF, {"identity": "agent-1", "code": 5, "digit": "5"}),
            encode_message(
                MessageKind.DATA,
                join_header(
                    {"identity": "agent-1", "topic": EVENTS_TOPIC},
                    encode_event(event, participant=CALLER, session_id="s"),
                ),
            ),
            encode_message(
                MessageKind.DATA,
                join_header({"identity": "agent-1", "topic": "other"}, b"{}"),
            ),
            _msg(MessageKind.PARTICIPANT_LEFT, {"identity": "agent-1"}),
            _msg(MessageKind.DISCONNECTED, {"reason": "room deleted"}),
        ]
    )
    reader = asyncio.StreamReader()
    reader.feed_data(stream)
    reader.feed_eof()
    await room._read_messages(reader)  # reason: drive the reader task directly
    assert room.agent_identity == "agent-1"
    assert room.agent_state == "speaking"
    assert got["audio"] == [bytes(320)]
    assert got["state"] == [("idle", "speaking")]
    assert got["dtmf"] == ["5"]
    assert [e.type for e in got["event"]] == [EventType.USER_TRANSCRIPT]  # type: ignore[attr-defined]  # reason: list[object] of Events
    assert got["left"] == [True]
    assert disconnected.is_set()


async def test_bad_option_is_rejected_with_its_range() -> None:
    with pytest.raises(ValueError, match=r"^opus_complexity 11 is not between 0 and 10$"):
        NativeMediaOptions(process=NativeMediaProcess(binary="/nonexistent"), opus_complexity=11)
