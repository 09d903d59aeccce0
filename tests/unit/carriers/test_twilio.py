"""Twilio: X-Twilio-Signature vectors (twilio-python tests), TwiML golden strings, webhook parsing."""

from __future__ import annotations

import hashlib

import pytest

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.carriers.twilio import (
    compute_signature,
    parse_call_webhook,
    twiml_reject,
    twiml_stream,
    validate_signature,
)

pytestmark = pytest.mark.unit

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
URL_PORT = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def test_published_vectors() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert compute_signature(TOKEN, URL_PORT, PARAMS) == "kvajT1Ptam85bY51eRf/AJRuM3w="
    assert hashlib.sha256(BODY).hexdigest() == BODY_HASH


@pytest.mark.parametrize("url", [URL, URL_PORT])
@pytest.mark.parametrize(
    "signature", ["RSOYDt4T1cUTdK1PDd93/VVr8B8=", "kvajT1Ptam85bY51eRf/AJRuM3w="]
)
def test_either_port_form_validates(url: str, signature: str) -> None:
    validate_signature(auth_token=TOKEN, url=url, params=PARAMS, signature=signature)


def test_json_body_vector() -> None:
    url = f"{URL}&bodySHA256={BODY_HASH}"
    validate_signature(
        auth_token=TOKEN, url=url, body=BODY, signature="a9nBmqA0ju/hNViExpshrM61xv4="
    )
    with pytest.raises(SignatureError, match=r"^twilio: body does not match bodySHA256$"):
        validate_signature(
            auth_token=TOKEN, url=url, body=BODY + b" ", signature="a9nBmqA0ju/hNViExpshrM61xv4="
        )
    with pytest.raises(SignatureError, match=r"^twilio: bodySHA256 in URL but no body to check$"):
        validate_signature(auth_token=TOKEN, url=url, signature="a9nBmqA0ju/hNViExpshrM61xv4=")


def test_rejects_tampered_missing_and_wrong_token() -> None:
    tampered = {**PARAMS, "To": "+18005551213"}
    with pytest.raises(SignatureError, match=r"^twilio: invalid X-Twilio-Signature$"):
        validate_signature(
            auth_token=TOKEN, url=URL, params=tampered, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
    with pytest.raises(SignatureError, match=r"^twilio: invalid X-Twilio-Signature$"):
        validate_signature(
            auth_token="54321", url=URL, params=PARAMS, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )
    with pytest.raises(SignatureError, match=r"^twilio: missing X-Twilio-Signature header$"):
        validate_signature(auth_token=TOKEN, url=URL, params=PARAMS, signature=None)


def test_repeated_values_are_sorted() -> None:
    one = compute_signature(TOKEN, URL, {"a": ["2", "1"]})
    assert one == compute_signature(TOKEN, URL, {"a": ["1", "2"]})
    assert one != compute_signature(TOKEN, URL, {"a": "1"})


def test_stream_twiml_golden() -> None:
    assert twiml_stream(
        url="wss://voice.example.com/media/twilio",
        parameters={"token": "0f1e2d3c", "tenant": 'a&b"<c>'},
        status_callback="https://voice.example.com/twilio/stream-status",
    ) == (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<Response><Connect>"
        '<Stream url="wss://voice.example.com/media/twilio" '
        'statusCallback="https://voice.example.com/twilio/stream-status">'
        '<Parameter name="token" value="0f1e2d3c" />'
        '<Parameter name="tenant" value="a&amp;b&quot;&lt;c&gt;" />'
        "</Stream></Connect></Response>"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "wss://h/p?token=1",
            "twilio: <Stream url> must not contain a query string; pass values as parameters "
            "instead, got 'wss://h/p?token=1'",
        ),
        ("https://h/p", "twilio: <Stream url> must be a wss URL, got 'https://h/p'"),
    ],
)
def test_stream_url_rules(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as info:
        twiml_stream(url=url, parameters={})
    assert str(info.value) == message


def test_reject_golden() -> None:
    assert twiml_reject() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Reject reason="busy" /></Response>'
    )
    assert 'reason="rejected"' in twiml_reject("rejected")
    with pytest.raises(
        ValueError, match=r"^twilio: reject reason must be 'busy' or 'rejected', got 'no'$"
    ):
        twiml_reject("no")


def test_parse_call_webhook() -> None:
    info = parse_call_webhook(
        {**PARAMS, "AccountSid": "AC1", "Direction": "inbound", "CallStatus": "ringing"}
    )
    assert (info.call_id, info.from_, info.to, info.direction, info.carrier) == (
        "CA1234567890ABCDE",
        "+14158675309",
        "+18005551212",
        "inbound",
        "twilio",
    )
    assert info.attributes == {"AccountSid": "AC1", "CallStatus": "ringing", "Direction": "inbound"}
    assert (
        parse_call_webhook({"CallSid": "CA2", "Direction": "outbound-api"}).direction == "outbound"
    )
    with pytest.raises(ValueError, match=r"^twilio: webhook is missing CallSid$"):
        parse_call_webhook({"From": "+1"})


def test_websocket_upgrade_signature_over_wss_url() -> None:
    url = "wss://voice.example.com/media/twilio"
    signature = compute_signature(TOKEN, url)
    validate_signature(auth_token=TOKEN, url=url, signature=signature)
    validate_signature(
        auth_token=TOKEN, url="wss://voice.example.com:443/media/twilio", signature=signature
    )
    with pytest.raises(SignatureError, match=r"^twilio: invalid X-Twilio-Signature$"):
        validate_signature(
            auth_token=TOKEN, url="wss://voice.example.com/media/other", signature=signature
        )
