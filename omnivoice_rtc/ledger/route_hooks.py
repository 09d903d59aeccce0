"""What the call routes in the web server tell the ledger: one call each at start and
end, fire-and-forget (queued to :class:`~.service.LedgerService`; a slow database never
holds up a call). Used by the carrier shim (``MediaStreamGateway.run_stream``) and the
SIP gateway."""

from __future__ import annotations

from collections.abc import Mapping

from omnivoice_rtc.ledger.facts import CallOpened
from omnivoice_rtc.ledger.keys import call_key, classify
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.ledger.store import utc_now
from omnivoice_rtc.logs import bind_call_id
from omnivoice_rtc.types import CallInfo

__all__ = ["route_call_ended", "route_call_started"]


def route_call_started(
    service: LedgerService | None,
    *,
    room_name: str,
    identity: str,
    attributes: Mapping[str, str],
    call: CallInfo,
    source: str = "shim",
    answered: bool = True,
    bind: bool = True,
) -> str:
    """A route took a call (answered unless ``answered=False``, e.g. still ringing):
    records it and, with ``bind``, stamps its id on this task's log lines (a task that
    serves only this call); returns the id."""
    call_id = call_key(room_name, identity)
    if bind:
        bind_call_id(call_id)
    if service is not None:
        parties = classify(room_name, attributes, sip_kind=source == "sip_gateway")
        service.call_opened(
            CallOpened(
                room_name=room_name,
                participant_identity=identity,
                parties=parties,
                source=source,
                created_at=min(call.start_time, utc_now()),
            )
        )
        if answered:
            service.call_answered(call_id, at=utc_now(), source=source)
    return call_id


def route_call_ended(
    service: LedgerService | None,
    call_id: str,
    *,
    reason: str,
    carrier: str = "",
    counters: Mapping[str, int] | None = None,
    source: str = "shim",
) -> None:
    """The route's call ended for ``reason`` (with its counters, for the shim)."""
    if service is None:
        return
    service.call_ended(call_id, at=utc_now(), reason=reason, source=source)
    if counters is not None:
        service.route_counters(call_id, carrier, dict(counters))
