"""The omnivoice.control command packets."""

from __future__ import annotations

import json

import pytest

from omnivoice_rtc.livekit.data_topics import (
    CONTROL_TOPIC,
    ControlCommand,
    decode_control,
    encode_control,
)

pytestmark = pytest.mark.unit


def test_round_trip_and_wire_shape() -> None:
    assert CONTROL_TOPIC == "omnivoice.control"
    say = ControlCommand(type="say", text="What is my balance?", participant="caller-1")
    assert json.loads(encode_control(say)) == {
        "type": "say",
        "text": "What is my balance?",
        "participant": "caller-1",
    }
    assert decode_control(encode_control(say)) == say
    assert json.loads(encode_control(ControlCommand(type="interrupt"))) == {"type": "interrupt"}
    assert decode_control(b'{"type": "close"}') == ControlCommand(type="close")


def test_what_the_shim_and_sip_sessions_send_is_accepted() -> None:
    assert decode_control(json.dumps({"type": "say", "text": "hi"}).encode()) == ControlCommand(
        type="say", text="hi"
    )
    assert decode_control(json.dumps({"type": "interrupt"}).encode()).type == "interrupt"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff", "invalid JSON"),
        (b"[]", "JSON object"),
        (b'{"type": "dance"}', "type must be one of"),
        (b'{"type": "say"}', "non-empty string 'text'"),
        (b'{"type": "say", "text": "  "}', "non-empty string 'text'"),
        (b'{"type": "close", "participant": 7}', "participant must be a string"),
    ],
)
def test_malformed_packets(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_control(payload)


def test_encode_rejects_empty_say() -> None:
    with pytest.raises(ValueError, match="text must not be empty"):
        encode_control(ControlCommand(type="say", text=""))


def test_call_control_commands_round_trip() -> None:
    speak = ControlCommand(type="speak", text="One moment, transferring you.", participant="p")
    assert json.loads(encode_control(speak)) == {
        "type": "speak",
        "text": "One moment, transferring you.",
        "participant": "p",
    }
    assert decode_control(encode_control(speak)) == speak
    for kind in ("hold", "resume"):
        assert decode_control(json.dumps({"type": kind, "text": "x"}).encode()) == ControlCommand(
            type=kind
        )
    with pytest.raises(ValueError, match="'speak' needs a non-empty string 'text'"):
        decode_control(b'{"type": "speak"}')
    with pytest.raises(ValueError, match="text must not be empty"):
        encode_control(ControlCommand(type="speak", text=" "))


def test_warm_transfer_carries_the_target_and_the_summary() -> None:
    warm = ControlCommand(
        type="warm_transfer", text="Caller wants a refund", participant="sip_1", to="+15550100"
    )
    assert json.loads(encode_control(warm)) == {
        "type": "warm_transfer",
        "text": "Caller wants a refund",
        "participant": "sip_1",
        "to": "+15550100",
    }
    assert decode_control(encode_control(warm)) == warm
    say = decode_control(b'{"type": "say", "text": "hi", "to": "+1555"}')
    assert say.to == ""  # only a warm transfer has a target
    with pytest.raises(
        ValueError,
        match=r"^omnivoice.control packet: control command 'warm_transfer': needs a non-empty "
        r"string 'to'$",
    ):
        decode_control(b'{"type": "warm_transfer", "text": "s"}')
    with pytest.raises(ValueError, match="'to' longer than 256 characters"):
        encode_control(ControlCommand(type="warm_transfer", text="s", to="+1" * 200))
    with pytest.raises(ValueError, match="'warm_transfer' needs a non-empty string 'text'"):
        decode_control(b'{"type": "warm_transfer", "to": "+15550100"}')


# --------------------------------------------------------------------------- latency


def test_latency_report_round_trips() -> None:
    from omnivoice_rtc.livekit.data_topics import decode_latency_report, encode_latency_report
    from omnivoice_rtc.types import TurnLatency

    raw = encode_latency_report(mouth_to_ear_ms=640, measured_by="carrier")
    assert json.loads(raw) == {"mouth_to_ear_ms": 640, "measured_by": "carrier"}
    assert decode_latency_report(raw) == TurnLatency(mouth_to_ear_ms=640, measured_by="carrier")
    # the page sends a float from performance.now() differences
    assert decode_latency_report(b'{"mouth_to_ear_ms": 612.4, "measured_by": "browser"}') == (
        TurnLatency(mouth_to_ear_ms=612, measured_by="browser")
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'{"mouth_to_ear_ms": "600", "measured_by": "browser"}',
        b'{"mouth_to_ear_ms": true, "measured_by": "browser"}',
        b'{"mouth_to_ear_ms": 600, "measured_by": "sip"}',
        b'{"mouth_to_ear_ms": 0, "measured_by": "browser"}',
        b'{"mouth_to_ear_ms": 60001, "measured_by": "browser"}',
        b'{"measured_by": "browser"}',
    ],
)
def test_a_bad_latency_report_is_refused(payload: bytes) -> None:
    from omnivoice_rtc.livekit.data_topics import decode_latency_report

    with pytest.raises(ValueError, match=r"omnivoice\.latency"):
        decode_latency_report(payload)
