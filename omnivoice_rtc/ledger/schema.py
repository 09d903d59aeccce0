"""The ledger's tables (SQLAlchemy 2 declarative models); migrations in ``migrations/``.

======================  ==================================================================
``calls``               one row per call: ids, route, parties, times, end, metrics, refs
``call_turns``          the transcript: one row per turn, with its timings and latencies
``call_events``         what else happened: tool calls, DTMF, errors, lifecycle (JSON data)
``webhook_events``      the outbox: one row per outbound webhook event (its idempotency key)
``webhook_deliveries``  one row per event and endpoint: status, attempts, lease, next try
``webhook_attempts``    the delivery log: one row per attempt
``livekit_webhooks``    ids of LiveKit webhooks already handled (de-duplication)
======================  ==================================================================

Times are UTC (:class:`UTCDateTime` stores them naive and reads them back aware);
durations and latencies are ms. A call's id is derived from its room and participant
(:func:`omnivoice_rtc.ledger.keys.call_key`), so every process that knows one of its
facts writes the same row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "CallEventRow",
    "CallRow",
    "LiveKitWebhookRow",
    "TurnRow",
    "UTCDateTime",
    "WebhookAttemptRow",
    "WebhookDeliveryRow",
    "WebhookEventRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant: stored naive (UTC), read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime: naive datetime given; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


_ID = String(64)
_NAME = String(256)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("room_name", "participant_identity", name="uq_calls_room_participant"),
        Index("ix_calls_created_at", "created_at"),
        Index("ix_calls_status", "status"),
        Index("ix_calls_carrier_call_id", "carrier_call_id"),
        Index("ix_calls_sip_call_id", "sip_call_id"),
        Index("ix_calls_room_name", "room_name"),
        # the sweeper looks for the few rows not announced yet
        Index("ix_calls_started_announced", "started_announced"),
        Index("ix_calls_answered_announced", "answered_announced"),
    )

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    room_name: Mapped[str] = mapped_column(_NAME)
    participant_identity: Mapped[str] = mapped_column(_NAME)
    room_sid: Mapped[str] = mapped_column(_ID, default="")
    session_id: Mapped[str] = mapped_column(String(520), default="")
    route: Mapped[str] = mapped_column(String(32), default="")
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    carrier: Mapped[str] = mapped_column(String(64), default="")
    carrier_call_id: Mapped[str] = mapped_column(_NAME, default="")
    sip_call_id: Mapped[str] = mapped_column(_NAME, default="")
    caller: Mapped[str] = mapped_column(_NAME, default="")
    """Personal data (a phone number or SIP user): never logged unredacted."""
    callee: Mapped[str] = mapped_column(_NAME, default="")
    """Personal data, like ``caller``."""
    agent_identity: Mapped[str] = mapped_column(_NAME, default="")
    pipeline: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    """``active``, ``ended`` (waiting for the agent's report) or ``final``."""
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    ended_by: Mapped[str] = mapped_column(String(16), default="")
    end_source: Mapped[str] = mapped_column(String(32), default="")
    agent_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_left_at: Mapped[datetime | None] = mapped_column(default=None)
    room_finished_at: Mapped[datetime | None] = mapped_column(default=None)
    finalized_at: Mapped[datetime | None] = mapped_column(default=None)
    started_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The Go ``Metrics`` (ms, counts, bytes) from the agent's report or the turns."""
    counters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The route's own counters (the shim's ``CallCounters``)."""
    refs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """References added by call control: ``{"transfers": [...], "recordings": [...]}``."""
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Which writers contributed, each with the time it last wrote (RFC 3339)."""
    updated_at: Mapped[datetime]


class TurnRow(Base):
    __tablename__ = "call_turns"
    __table_args__ = (
        UniqueConstraint("call_id", "seq", name="uq_call_turns_call_seq"),
        Index("ix_call_turns_announced", "announced"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    stt_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    llm_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    tts_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    total_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    tool_calls: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """``{"calls": [ToolCall.to_dict(), ...]}`` made before this (agent) turn."""
    announced: Mapped[bool] = mapped_column(Boolean, default=False)


class CallEventRow(Base):
    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_call_id", "call_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    call_id: Mapped[str] = mapped_column(_ID, ForeignKey("calls.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WebhookEventRow(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_call_id", "call_id"),)

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    """The event's idempotency key (``evt_…``), sent with every attempt."""
    type: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(_ID, ForeignKey("calls.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class WebhookDeliveryRow(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint", name="uq_webhook_deliveries_event_endpoint"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(_ID, ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``delivered`` or ``failed`` (attempts exhausted)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookAttemptRow(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
    )
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    """HTTP status of the answer; 0 when none came (timeout, refused connection)."""
    error: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str] = mapped_column(String(64), default="")


class LiveKitWebhookRow(Base):
    __tablename__ = "livekit_webhooks"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
