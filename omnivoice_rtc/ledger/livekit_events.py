"""The ledger's subscriber to LiveKit's webhooks: the closer that works for every route.

========================  ====================================================================
``participant_joined``    a caller (standard or SIP participant): open its record
``participant_left``      a caller: its call ended (``participant_left``); the agent: its
                          calls in that room stop waiting long for its report
``room_finished``         every call still on in the room ended (``room_finished``)
========================  ====================================================================

Agents, egress/ingress and our own hidden observers are not calls. Event ids are
remembered in the ledger (``livekit_webhooks``) so several web replicas handle each
event once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from livekit.protocol.models import ParticipantInfo
from sqlalchemy.dialects import postgresql, sqlite

from omnivoice_rtc.ledger.facts import CallOpened
from omnivoice_rtc.ledger.keys import call_key, classify
from omnivoice_rtc.ledger.schema import LiveKitWebhookRow
from omnivoice_rtc.ledger.service import LedgerService
from omnivoice_rtc.ledger.store import utc_now
from omnivoice_rtc.livekit.webhooks import LiveKitWebhooks, WebhookEvent

__all__ = ["OBSERVER_PREFIXES", "subscribe_ledger"]

OBSERVER_PREFIXES: Final = ("omnivoice-sip-observer-", "omnivoice-observer-")
"""Identities of our own hidden participants (they are not calls)."""
_CALLER_KINDS: Final = (ParticipantInfo.Kind.STANDARD, ParticipantInfo.Kind.SIP)


def _is_caller(p: ParticipantInfo) -> bool:
    return p.kind in _CALLER_KINDS and not p.identity.startswith(OBSERVER_PREFIXES)


def _event_time(event: WebhookEvent) -> datetime:
    return datetime.fromtimestamp(event.created_at, UTC) if event.created_at else utc_now()


def subscribe_ledger(hooks: LiveKitWebhooks, service: LedgerService) -> None:
    """Subscribe ``service`` to ``hooks`` (see the module docstring)."""

    async def remember(event_id: str, name: str) -> bool:
        ledger = service.ledger
        if ledger is None:
            return True
        dialect = postgresql if ledger.dialect == "postgresql" else sqlite
        insert = (
            dialect.insert(LiveKitWebhookRow.__table__)
            .values(id=event_id, event=name, received_at=utc_now())
            .on_conflict_do_nothing(index_elements=["id"])
        )
        async with ledger.transaction() as session:
            result = await session.execute(insert)
        return getattr(result, "rowcount", 1) == 1

    async def joined(event: WebhookEvent) -> None:
        p = event.participant
        if not _is_caller(p):
            return
        attributes = dict(p.attributes)
        at = datetime.fromtimestamp(p.joined_at, UTC) if p.joined_at else _event_time(event)
        service.call_opened(
            CallOpened(
                room_name=event.room.name,
                participant_identity=p.identity,
                parties=classify(
                    event.room.name, attributes, sip_kind=p.kind == ParticipantInfo.Kind.SIP
                ),
                source="livekit_webhook",
                created_at=at,
                room_sid=event.room.sid,
            )
        )

    async def left(event: WebhookEvent) -> None:
        p, room, at = event.participant, event.room.name, _event_time(event)
        if p.kind == ParticipantInfo.Kind.AGENT:
            service.submit(lambda ledger: ledger.agent_left(room, at=at))
        elif _is_caller(p):
            service.call_ended(
                call_key(room, p.identity),
                at=at,
                reason="participant_left",
                source="livekit_webhook",
            )

    async def finished(event: WebhookEvent) -> None:
        room, at = event.room.name, _event_time(event)
        service.submit(lambda ledger: ledger.room_finished(room, at=at))

    hooks.remember = remember
    hooks.subscribe("participant_joined", joined)
    hooks.subscribe("participant_left", left)
    hooks.subscribe("room_finished", finished)
