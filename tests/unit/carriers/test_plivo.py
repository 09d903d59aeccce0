"""Plivo: V3 signature vectors (computed with plivo-python 4.63.0), Stream XML golden, webhook."""

from __future__ import annotations

import pytest

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.audio.format import PLIVO_L16_16K
from omnivoice_rtc.carriers.plivo import (
    compute_signature_v3,
    parse_answer_webhook,
    plivo_reject,
    plivo_stream,
    validate_signature_v3,
)

pytestmark = pytest.mark.unit

TOKEN = "MY_AUTH_TOKEN"
NONCE = "05429567804466091622"
PARAMS = {
    "CallUUID": "2e1c5f3a-0000-4000-8000-000000000001",
    "From": "14155550100",
    "To": "14155550199",
    "Direction": "inbound",
    "CallStatus": "ringing",
}


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("POST", "https://example.com/answer", "+WZhVFXQ5QMXaTz30D4IiIudunBwn6B/8I+rHmIe7+8="),
        (
            "POST",
            "https://example.com/answer?b=2&a=1",
            "H8NAbbnMew3gM1PH9hLVrDHXgHmKf1fEUZ8lzu2SlDQ=",
        ),
        (
            "GET",
            "https://example.com/answer?b=2&a=1",
            "ujqW2BVTk144VZkx430ycpd56fLRkLCbYdOc4e887ac=",
        ),
    ],
)
def test_vectors(method: str, url: str, expected: str) -> None:
    sig = compute_signature_v3(auth_token=TOKEN, url=url, nonce=NONCE, method=method, params=PARAMS)
    assert sig == expected
    validate_signature_v3(
        auth_token=TOKEN,
        url=url,
        nonce=NONCE,
        signature=f"bogus=,{expected}",
        method=method,
        params=PARAMS,
    )


def test_rejects_tampered_and_missing() -> None:
    good = "+WZhVFXQ5QMXaTz30D4IiIudunBwn6B/8I+rHmIe7+8="
    url = "https://example.com/answer"
    with pytest.raises(SignatureError, match=r"^plivo: invalid X-Plivo-Signature-V3$"):
        validate_signature_v3(
            auth_token=TOKEN,
            url=url,
            nonce=NONCE,
            signature=good,
            method="POST",
            params={**PARAMS, "To": "14155550198"},
        )
    with pytest.raises(SignatureError, match=r"^plivo: invalid X-Plivo-Signature-V3$"):
        validate_signature_v3(
            auth_token=TOKEN, url=url, nonce="1", signature=good, method="POST", params=PARAMS
        )
    with pytest.raises(SignatureError, match=r"^plivo: missing X-Plivo-Signature-V3"):
        validate_signature_v3(
            auth_token=TOKEN, url=url, nonce=None, signature=good, method="POST", params=PARAMS
        )


def test_stream_xml_golden() -> None:
    assert plivo_stream(
        url="wss://voice.example.com/media/plivo",
        extra_headers={"token": "0f1e2d3c"},
        status_callback_url="https://voice.example.com/plivo/stream-status",
    ) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        '<Stream bidirectional="true" keepCallAlive="true" audioTrack="inbound" '
        'contentType="audio/x-mulaw;rate=8000" streamTimeout="86400" '
        'statusCallbackUrl="https://voice.example.com/plivo/stream-status" '
        'statusCallbackMethod="POST" extraHeaders="token=0f1e2d3c">'
        "wss://voice.example.com/media/plivo</Stream></Response>"
    )
    l16 = plivo_stream(url="wss://h/p?a=1&b=2", extra_headers={}, audio_format=PLIVO_L16_16K)
    assert 'contentType="audio/x-l16;rate=16000"' in l16
    assert ">wss://h/p?a=1&amp;b=2</Stream>" in l16
    assert plivo_reject() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup reason="rejected" /></Response>'
    )


def test_parse_answer_webhook() -> None:
    info = parse_answer_webhook(PARAMS)
    assert (info.call_id, info.from_, info.to, info.direction, info.carrier) == (
        "2e1c5f3a-0000-4000-8000-000000000001",
        "14155550100",
        "14155550199",
        "inbound",
        "plivo",
    )
    with pytest.raises(ValueError, match=r"^plivo: webhook is missing CallUUID$"):
        parse_answer_webhook({})
