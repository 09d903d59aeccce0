"""Vonage: published HS256 signed-webhook vector, payload_hash vector and checks, NCCO
golden documents, application JWT claims, webhook parsing."""

from __future__ import annotations

import json
import warnings

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from omnivoice_rtc._errors import SignatureError
from omnivoice_rtc.carriers.vonage import (
    make_signed_webhook_jwt,
    ncco_reject,
    ncco_websocket,
    parse_answer_webhook,
    payload_hash,
    query_payload_hash,
    verify_signed_webhook,
)
from omnivoice_rtc.carriers.vonage_rest import make_application_jwt

pytestmark = pytest.mark.unit

SECRET = "qwertyuiopasdfghjklzxcvbnm123456"
VECTOR = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2Mz"
    "Q2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM"
)
BODY = b'{"status":"answered","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}'
BODY_HASH = "3b98c9072a87490e8518bd6d2cc5a5becdfff627784c7f3b0ac9b48b095bfd37"


def test_published_vector() -> None:
    claims = verify_signed_webhook(signature_secret=SECRET, authorization=f"Bearer {VECTOR}")
    assert claims["iss"] == "Online JWT Builder"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        with pytest.raises(
            SignatureError, match=r"^vonage: invalid signed-webhook JWT: InvalidSignatureError$"
        ):
            verify_signed_webhook(signature_secret="asdf", authorization=f"Bearer {VECTOR}")


def test_payload_hash_vector_and_checks() -> None:
    assert payload_hash(BODY) == BODY_HASH
    token = make_signed_webhook_jwt(
        signature_secret=SECRET, api_key="abc123", payload_hash=BODY_HASH
    )
    claims = verify_signed_webhook(
        signature_secret=SECRET, authorization=f"Bearer {token}", raw_body=BODY
    )
    assert claims["api_key"] == "abc123"
    with pytest.raises(SignatureError, match=r"^vonage: payload_hash does not match the request$"):
        verify_signed_webhook(
            signature_secret=SECRET, authorization=f"Bearer {token}", raw_body=BODY + b" "
        )
    with pytest.raises(
        SignatureError, match=r"^vonage: signed-webhook JWT has no payload_hash claim$"
    ):
        verify_signed_webhook(
            signature_secret=SECRET, authorization=f"Bearer {VECTOR}", raw_body=BODY
        )
    with pytest.raises(SignatureError, match=r"^vonage: missing Authorization: Bearer <JWT>$"):
        verify_signed_webhook(signature_secret=SECRET, authorization=None)


def test_get_query_hash_keeps_order() -> None:
    query = [("to", "447700900000"), ("from", "447700900001"), ("uuid", "u1")]
    expected = payload_hash(b'{"to":"447700900000","from":"447700900001","uuid":"u1"}')
    assert query_payload_hash(query) == expected
    token = make_signed_webhook_jwt(signature_secret=SECRET, api_key="k", payload_hash=expected)
    verify_signed_webhook(signature_secret=SECRET, authorization=f"Bearer {token}", query=query)
    with pytest.raises(SignatureError, match=r"^vonage: payload_hash does not match the request$"):
        verify_signed_webhook(
            signature_secret=SECRET, authorization=f"Bearer {token}", query=list(reversed(query))
        )


def test_expired_token_rejected() -> None:
    token = jwt.encode({"iat": 1000, "exp": 1060}, SECRET, algorithm="HS256")
    with pytest.raises(
        SignatureError, match=r"^vonage: invalid signed-webhook JWT: ExpiredSignatureError$"
    ):
        verify_signed_webhook(signature_secret=SECRET, authorization=f"Bearer {token}")


def test_ncco_golden() -> None:
    ncco = ncco_websocket(
        uri="wss://voice.example.com/media/vonage",
        headers={"token": "0f1e2d3c"},
        event_url="https://voice.example.com/vonage/events",
        from_="447700900000",
    )
    assert json.dumps(ncco, separators=(",", ":")) == (
        '[{"action":"connect","from":"447700900000","eventType":"synchronous",'
        '"eventUrl":["https://voice.example.com/vonage/events"],'
        '"endpoint":[{"type":"websocket","uri":"wss://voice.example.com/media/vonage",'
        '"content-type":"audio/l16;rate=16000","headers":{"token":"0f1e2d3c"}}]}]'
    )
    assert (
        ncco_websocket(uri="wss://h/p", headers={}, sample_rate=8000)[0]["endpoint"][0][
            "content-type"
        ]
        == "audio/l16;rate=8000"
    )
    signed = ncco_websocket(uri="wss://h/p", headers={}, signed_upgrade=True)
    assert signed[0]["endpoint"][0]["authorization"] == {"type": "vonage"}
    assert ncco_reject() == []
    assert ncco_reject("Sorry") == [{"action": "talk", "text": "Sorry"}]
    with pytest.raises(
        ValueError, match=r"^vonage: websocket headers must be at most 512 bytes of JSON, got 608$"
    ):
        ncco_websocket(uri="wss://h/p", headers={"x": "y" * 600})


def test_application_jwt_claims() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    token = make_application_jwt(application_id="app-1", private_key=pem, issued_at=1_700_000_000)
    claims = jwt.decode(
        token, key.public_key(), algorithms=["RS256"], options={"verify_exp": False}
    )
    assert claims["application_id"] == "app-1"
    assert claims["exp"] - claims["iat"] == 900
    assert len(claims["jti"]) == 36
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_parse_answer_webhook() -> None:
    info = parse_answer_webhook(
        {"to": "447700900000", "from": "447700900001", "uuid": "u1", "conversation_uuid": "CON-1"}
    )
    assert (info.call_id, info.from_, info.to, info.direction, info.carrier) == (
        "u1",
        "447700900001",
        "447700900000",
        "inbound",
        "vonage",
    )
    assert info.attributes == {"conversation_uuid": "CON-1"}
    assert parse_answer_webhook({"uuid": "u2", "from_user": "alice"}).from_ == "alice"
    with pytest.raises(ValueError, match=r"^vonage: webhook is missing uuid$"):
        parse_answer_webhook({"to": "1"})
