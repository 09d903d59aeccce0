"""Moved to :mod:`omnivoice_rtc.simulate.carrier_simulator` (``omnivoice-rtc simulate``
uses it too); this name re-exports it for tests written against the old path."""

from omnivoice_rtc.simulate.carrier_simulator import (
    CarrierSecrets,
    CarrierSimulator,
    StreamTarget,
    pcm16,
)

__all__ = ["CarrierSecrets", "CarrierSimulator", "StreamTarget", "pcm16"]
