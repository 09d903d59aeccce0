"""Moved to :mod:`omnivoice_rtc.simulate.carrier_webhooks` (``omnivoice-rtc simulate``
uses it too); this name re-exports it for tests written against the old path."""

from omnivoice_rtc.simulate.carrier_webhooks import (
    WIRE_ENCODINGS,
    CallParties,
    CarrierSecrets,
    call_control_event,
    exotel_headers,
    new_call_id,
    signature_headers,
    stream_codec,
    stream_target_from_markup,
    webhook_fields,
)

__all__ = [
    "WIRE_ENCODINGS",
    "CallParties",
    "CarrierSecrets",
    "call_control_event",
    "exotel_headers",
    "new_call_id",
    "signature_headers",
    "stream_codec",
    "stream_target_from_markup",
    "webhook_fields",
]
