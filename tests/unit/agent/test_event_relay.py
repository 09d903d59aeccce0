"""The omnivoice.events wire format and the relay's ordering/flush behaviour."""

from __future__ import annotations

import json

import pytest

from omnivoice_rtc.agent.event_relay import EventRelay
from omnivoice_rtc.livekit.data_topics import (
    EVENTS_TOPIC,
    MAX_PAYLOAD_BYTES,
    decode_event_packet,
    encode_event,
)
from omnivoice_rtc.types import Event, EventType, Metrics, SessionEnded, Turn, UserTranscript

pytestmark = pytest.mark.unit


class RecordingPublisher:
    """Stands in for rtc.LocalParticipant.publish_data (same signature)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.packets: list[tuple[bytes, bool, str]] = []
        self.fail = fail

    async def publish_data(
        self, payload: bytes | str, *, reliable: bool = True, topic: str = ""
    ) -> None:
        if self.fail:
            raise ConnectionError("room closed")
        self.packets.append(
            (payload if isinstance(payload, bytes) else payload.encode(), reliable, topic)
        )


def test_packet_is_event_json_plus_participant_and_session() -> None:
    event = Event(type=EventType.USER_TRANSCRIPT, data=UserTranscript(text="hi", final=True))
    body = json.loads(encode_event(event, participant="web-1", session_id="room/web-1"))
    assert body["type"] == "user_transcript"
    assert body["data"] == {"text": "hi", "final": True}
    assert body["participant"] == "web-1"
    assert body["session_id"] == "room/web-1"
    assert "error" not in body
    decoded, participant, session_id = decode_event_packet(json.dumps(body))
    assert decoded == event
    assert (participant, session_id) == ("web-1", "room/web-1")


def test_oversized_session_ended_drops_oldest_turns() -> None:
    turns = tuple(Turn(role="user", text=f"turn {i} " + "x" * 500) for i in range(60))
    event = Event(
        type=EventType.SESSION_ENDED,
        data=SessionEnded(reason="x", metrics=Metrics(), transcript=turns),
    )
    raw = encode_event(event, participant="p", session_id="s")
    assert len(raw) <= MAX_PAYLOAD_BYTES
    body = json.loads(raw)
    assert body["data"]["transcript_truncated"] is True
    assert body["data"]["transcript"][-1]["text"].startswith("turn 59 ")
    # the observer side reads the shortened report as a typed SessionEnded
    report = decode_event_packet(raw)[0].data_as(SessionEnded)
    assert report.transcript_truncated is True
    assert report.transcript[-1] == turns[-1]
    assert len(report.transcript) < len(turns)


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"type": "error", "participant": 3}'])
def test_bad_packets_raise_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError, match=r"packet|type|unknown"):
        decode_event_packet(payload)


async def test_relay_publishes_in_order_on_the_topic_and_flushes_on_close() -> None:
    publisher = RecordingPublisher()
    relay = EventRelay(publisher=publisher, participant="p", session_id="s")
    relay.start()
    for kind in (EventType.SESSION_STARTED, EventType.USER_SPEECH_START, EventType.SESSION_ENDED):
        relay.publish(Event(type=kind))
    await relay.aclose()
    assert [json.loads(p)["type"] for p, _, _ in publisher.packets] == [
        "session_started",
        "user_speech_start",
        "session_ended",
    ]
    assert all(reliable and topic == EVENTS_TOPIC for _, reliable, topic in publisher.packets)
    assert relay.sent == 3


async def test_relay_survives_publish_failures() -> None:
    relay = EventRelay(publisher=RecordingPublisher(fail=True), participant="p", session_id="s")
    relay.start()
    relay.publish(Event(type=EventType.ERROR, error="x"))
    await relay.aclose()
    assert relay.dropped == 1
    assert relay.sent == 0
