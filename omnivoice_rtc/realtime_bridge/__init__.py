"""RealtimeBridge: telephony audio <-> a realtime model session (Go ``RealtimeBridge``)."""

from omnivoice_rtc.realtime_bridge.bridge import RealtimeBridge

__all__ = ["RealtimeBridge"]
