"""The webhook signature: HMAC-SHA256 over ``timestamp.body``, verified by the helper."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from omnivoice_rtc import SignatureError
from omnivoice_rtc.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signed_headers,
    verify_webhook,
)

pytestmark = pytest.mark.unit

BODY = json.dumps({"id": "evt_1", "type": "call.ended", "data": {}}).encode()


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"secret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("secret", 1700000000, BODY) == f"v1={expected}"


def test_a_signed_delivery_verifies_and_parses() -> None:
    headers = signed_headers(
        secret="s", event_id="evt_1", event_type="call.ended", body=BODY, timestamp=1000
    )
    assert headers["Omnivoice-Webhook-Id"] == "evt_1"
    event = verify_webhook(BODY, headers, secret="s", now=1010)
    assert event["type"] == "call.ended"
    lower = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    assert verify_webhook(BODY, lower, secret=["old", "s"], now=1010)["id"] == "evt_1"  # rotation


@pytest.mark.parametrize(
    ("body", "change", "secret", "now", "why"),
    [
        (BODY + b" ", {}, "s", 1000, "does not match"),  # tampered body
        (BODY, {}, "other", 1000, "does not match"),  # wrong secret
        (BODY, {}, "s", 1000 + 301, "from now"),  # too old: a replay
        (BODY, {TIMESTAMP_HEADER: "1001"}, "s", 1000, "does not match"),  # timestamp changed
        (BODY, {SIGNATURE_HEADER: ""}, "s", 1000, "required"),
        (BODY, {TIMESTAMP_HEADER: "soon"}, "s", 1000, "Unix time"),
    ],
)
def test_anything_wrong_is_refused(
    body: bytes, change: dict[str, str], secret: str, now: int, why: str
) -> None:
    headers = {
        **signed_headers(
            secret="s", event_id="e", event_type="call.ended", body=BODY, timestamp=1000
        ),
        **change,
    }
    with pytest.raises(SignatureError, match=why):
        verify_webhook(body, headers, secret=secret, now=now)
