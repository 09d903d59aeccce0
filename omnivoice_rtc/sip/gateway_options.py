"""How :class:`~omnivoice_rtc.sip.sip_gateway.SIPGateway` finds calls and dials out
(:class:`SIPGatewayOptions`). Re-exported by :mod:`omnivoice_rtc.sip.sip_gateway` (and
``omnivoice_rtc``), kept apart to keep that module short.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.livekit.names import SIP_OUTBOUND_ROOM_PREFIX, sip_outbound_room_name
from omnivoice_rtc.settings import DEFAULT_AGENT_NAME, CallSettings, OutboundLimits

__all__ = ["SIPGatewayOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SIPGatewayOptions:
    """How the gateway finds calls and dials out.

    ``outbound_trunk``: name or id (``ST_…``) of the outbound trunk for
    :meth:`~omnivoice_rtc.sip.sip_gateway.SIPGateway.make_call` (empty: outbound calls
    are refused).
    ``agent_name``: the agent dispatched to outbound-call rooms.
    ``poll_interval_s``: seconds between RoomService scans for new SIP participants when
    no webhooks are attached; ``reconcile_interval_s``: the same with webhooks attached (the
    scan then only catches what a lost webhook missed).
    ``ringing_timeout_s``: seconds an outbound call may ring before it fails.
    ``outbound_room_prefix``: outbound rooms are ``<prefix>-<random>``; the prefix must
    start with a reserved namespace (``sip-`` or ``call-``) so browsers cannot join.
    ``outbound``: the toll-fraud guard's limits (``Settings.limits.outbound`` from the
    environment); the default allows no destination.
    ``ledger``: records each call's start and end (and failed outbound calls) in the call
    ledger (a started :class:`~omnivoice_rtc.ledger.service.LedgerService`).
    ``agent_join_timeout_s``: seconds a call's first agent has to be in the room.
    ``liveness``: agent pings, fresh agents (also dispatched as ``agent_name``), teardown.
    """

    outbound_trunk: str = ""
    agent_name: str = DEFAULT_AGENT_NAME
    poll_interval_s: float = 0.5
    reconcile_interval_s: float = 30.0
    ringing_timeout_s: float = 30.0
    outbound_room_prefix: str = SIP_OUTBOUND_ROOM_PREFIX
    outbound: OutboundLimits = field(default_factory=OutboundLimits)
    ledger: LedgerService | None = None
    agent_join_timeout_s: float = 20.0
    liveness: CallSettings = field(default_factory=CallSettings)

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0:
            raise ValueError(f"poll_interval_s: must be > 0 s, got {self.poll_interval_s}")
        if self.reconcile_interval_s <= 0:
            raise ValueError(
                f"reconcile_interval_s: must be > 0 s, got {self.reconcile_interval_s}"
            )
        if self.ringing_timeout_s <= 0:
            raise ValueError(f"ringing_timeout_s: must be > 0 s, got {self.ringing_timeout_s}")
        if self.agent_join_timeout_s <= 0:
            raise ValueError(
                f"agent_join_timeout_s: must be > 0 s, got {self.agent_join_timeout_s}"
            )
        if not self.agent_name.strip():
            raise ValueError("agent_name: must not be empty")
        sip_outbound_room_name(self.outbound_room_prefix)  # ConfigError unless reserved
