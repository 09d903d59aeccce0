"""Telnyx: Ed25519 vector (RFC 8032 test-1 key), timestamp window, tampering; TeXML golden
strings; webhook parsing; stream token from the WS start."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.audio.format import TELNYX
from omnivoice_rtc.carriers.telnyx import (
    parse_call_control_webhook,
    parse_texml_webhook,
    sign_webhook,
    stream_token_from_start,
    texml_reject,
    texml_stream,
    verify_signature,
)
from omnivoice_rtc.media_streams import Start

pytestmark = pytest.mark.unit

SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC_KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
TIMESTAMP = "1700000000"
BODY = b'{"data":{"event_type":"call.initiated","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0"}}'
SIGNATURE = (
    "Es5MFqOrJvkje4uCzSmFjAx511fL4rQAC3ZGU4AtJD5rRccxihbsY+CM2fYNIWAs1I5FBdBwgsCyxk2o4h0iCA=="
)


def _verify(**overrides: object) -> None:
    args: dict[str, object] = {
        "public_key": PUBLIC_KEY,
        "signature": SIGNATURE,
        "timestamp": TIMESTAMP,
        "raw_body": BODY,
        "now": 1700000000.0,
    }
    args.update(overrides)
    verify_signature(**args)  # type: ignore[arg-type]  # reason: kwargs assembled for the test


def test_vector_verifies_and_signer_reproduces_it() -> None:
    _verify()
    assert sign_webhook(Ed25519PrivateKey.from_private_bytes(SEED), TIMESTAMP, BODY) == SIGNATURE


@pytest.mark.parametrize("now", [1700000300.0, 1699999700.0])
def test_window_edges_accepted(now: float) -> None:
    _verify(now=now)


@pytest.mark.parametrize("now", [1700000301.0, 1699999699.0])
def test_outside_window_rejected(now: float) -> None:
    with pytest.raises(
        SignatureError, match=r"^telnyx: telnyx-timestamp outside the 300 s window$"
    ):
        _verify(now=now)


@pytest.mark.parametrize(
    "overrides",
    [
        {"raw_body": BODY.replace(b"initiated", b"answered")},
        {"raw_body": BODY + b"\n"},
        {"timestamp": "1700000001", "now": 1700000001.0},
        {"signature": base64.b64encode(b"\x00" * 64).decode()},
        {"signature": "not base64!"},
    ],
)
def test_tampered_requests_rejected(overrides: dict[str, object]) -> None:
    with pytest.raises(SignatureError, match=r"^telnyx: invalid telnyx-signature-ed25519$"):
        _verify(**overrides)


def test_missing_headers() -> None:
    with pytest.raises(SignatureError, match=r"^telnyx: missing telnyx-signature-ed25519"):
        _verify(signature=None)
    with pytest.raises(SignatureError, match=r"^telnyx: telnyx-timestamp is not a Unix timestamp$"):
        _verify(timestamp="yesterday")


def test_texml_stream_golden() -> None:
    assert texml_stream(
        url="wss://voice.example.com/media/telnyx", parameters={"token": "0f1e2d3c"}
    ) == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Connect>"
        '<Stream url="wss://voice.example.com/media/telnyx" track="inbound_track" codec="PCMU" '
        'bidirectionalMode="rtp" bidirectionalCodec="PCMU" bidirectionalSamplingRate="8000">'
        '<Parameter name="token" value="0f1e2d3c" />'
        "</Stream></Connect></Response>"
    )
    assert texml_reject() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy" /></Response>'
    )
    with pytest.raises(
        ValueError, match=r"^telnyx: codec must be one of PCMU, PCMA, L16, got 'OPUS'$"
    ):
        texml_stream(url="wss://h/p", parameters={}, codec="OPUS")


def test_parse_webhooks() -> None:
    info = parse_texml_webhook(
        {"CallSid": "v3:abc", "From": "+13125550100", "To": "+13125550199", "Direction": "inbound"}
    )
    assert (info.call_id, info.from_, info.to, info.direction, info.carrier) == (
        "v3:abc",
        "+13125550100",
        "+13125550199",
        "inbound",
        "telnyx",
    )
    cc = parse_call_control_webhook(
        {
            "data": {
                "event_type": "call.initiated",
                "payload": {
                    "call_control_id": "v3:xyz",
                    "call_leg_id": "leg",
                    "from": "+13125550100",
                    "to": "+13125550199",
                    "direction": "incoming",
                    "state": "parked",
                },
            }
        }
    )
    assert (cc.call_id, cc.direction, cc.attributes["event_type"]) == (
        "v3:xyz",
        "inbound",
        "call.initiated",
    )
    with pytest.raises(ValueError, match=r"^telnyx: webhook is missing data.payload$"):
        parse_call_control_webhook({"data": {}})


def _start(**kw: object) -> Start:
    return Start(call_id="v3:x", media_format=TELNYX, wire_encoding="PCMU", **kw)  # type: ignore[arg-type]  # reason: test kwargs


def test_stream_token_from_start() -> None:
    assert stream_token_from_start(_start(custom_parameters={"token": "abc"})) == "abc"
    state = base64.b64encode(b"tok123").decode()
    assert stream_token_from_start(_start(details={"client_state": state})) == "tok123"
    assert stream_token_from_start(_start()) is None
