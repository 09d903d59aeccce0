"""RealtimeBridge: telephony audio <-> a realtime model session (Go ``RealtimeBridge``)."""

from .realtime_bridge import RealtimeBridge

__all__ = ["RealtimeBridge"]
