"""Signed outbound webhooks: ``call.started``, ``call.answered``, ``call.ended`` (with the
record) and optionally ``call.turn``, delivered from a durable outbox in the ledger's
database (docs/ledger.md).

Receivers verify a delivery with :func:`verify_webhook`.
"""

from omnivoice_rtc.webhooks.signing import (
    EVENT_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signed_headers,
    verify_webhook,
)

__all__ = [
    "EVENT_HEADER",
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "sign",
    "signed_headers",
    "verify_webhook",
]
