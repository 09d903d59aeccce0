"""Signing and verifying omnivoice-rtc's outbound webhooks (HMAC-SHA256).

Every delivery carries four headers::

    Omnivoice-Webhook-Id:         evt_…        the event's idempotency key (same on retries)
    Omnivoice-Webhook-Event:      call.ended
    Omnivoice-Webhook-Timestamp:  1764849600   Unix time of this attempt (s)
    Omnivoice-Webhook-Signature:  v1=<hex>     HMAC-SHA256(secret, f"{timestamp}.{body}")

A receiver checks the signature over the exact body bytes and refuses timestamps more
than ``tolerance_s`` away from its clock (a replayed request), then de-duplicates on the
id: :func:`verify_webhook` does the first two::

    from omnivoice_rtc.webhooks import verify_webhook
    event = verify_webhook(body, request.headers, secret=SECRET)  # SignatureError if bad
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from omnivoice_rtc._errors import SignatureError

__all__ = [
    "EVENT_HEADER",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_S",
    "sign",
    "signed_headers",
    "verify_webhook",
]

ID_HEADER: Final = "Omnivoice-Webhook-Id"
EVENT_HEADER: Final = "Omnivoice-Webhook-Event"
TIMESTAMP_HEADER: Final = "Omnivoice-Webhook-Timestamp"
SIGNATURE_HEADER: Final = "Omnivoice-Webhook-Signature"
TOLERANCE_S: Final = 300
"""Largest accepted distance between the timestamp and the receiver's clock (s)."""
_SCHEME: Final = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{_SCHEME}={mac.hexdigest()}"


def signed_headers(
    *, secret: str, event_id: str, event_type: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The headers of one delivery attempt (``timestamp``: Unix s, default now)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        ID_HEADER: event_id,
        EVENT_HEADER: event_type,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(secret, ts, body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return ""


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    *,
    secret: str | Sequence[str],
    tolerance_s: float = TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery's signature and timestamp; returns the parsed event.

    ``secret`` may be several (while rotating: any one matching is enough); ``now`` is
    the receiver's Unix time (s, default the clock). Raises
    :class:`~omnivoice_rtc.SignatureError` naming what is wrong.
    """
    raw_ts = _header(headers, TIMESTAMP_HEADER)
    presented = _header(headers, SIGNATURE_HEADER)
    if not raw_ts or not presented:
        raise SignatureError(f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    try:
        timestamp = int(raw_ts)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER}: not a Unix time") from None
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance_s:
        raise SignatureError(f"{TIMESTAMP_HEADER}: more than {tolerance_s:g} s from now")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    candidates = [part.strip() for part in presented.split(",")]
    if not any(
        hmac.compare_digest(sign(s, timestamp, body), candidate)
        for s in secrets
        for candidate in candidates
    ):
        raise SignatureError(f"{SIGNATURE_HEADER}: does not match the body")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("body: signed but not JSON") from None
    if not isinstance(event, dict):
        raise SignatureError("body: signed but not a JSON object")
    return event
