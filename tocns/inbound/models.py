"""Inbound updates: every webhook or polled update is stored before it is processed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class InboundState(StrEnum):
    """Where a stored update is in its processing."""

    PENDING = "pending"  # to process: waiting, claimed by a worker, or waiting out a retry's backoff
    DONE = "done"
    FAILED = "failed"  # parked: every attempt failed (or unreadable); waits for `tocns inbound retry`


class InboundUpdate(SQLModel, table=True):
    """One update as the platform delivered it; (platform, update_key) is unique so a redelivery is dropped.

    A pending update is processed by whichever worker claims it (`claimed_by` until `claimed_until`, the lease);
    a failed attempt hands it back with a `next_attempt_at` further off, up to INBOUND_MAX_ATTEMPTS attempts.
    """

    __tablename__ = "inbound_update"
    __table_args__ = (
        UniqueConstraint("platform", "update_key", name="uq_inbound_update_key"),
        Index("ix_inbound_update_state", "state", "received_at"),
        # Pending updates only, by chat then arrival (migration 0027): the claim finds each chat's oldest pending
        # update with one descent per chat, and whether an earlier update of a chat is pending with one probe.
        Index(
            "ix_inbound_update_pending",
            "platform",
            "chat_key",
            "id",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    # Telegram: update_id; Zalo: chat id and message_id (Zalo updates carry no update id).
    update_key: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=InboundState.PENDING, max_length=10)
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    error: str | None = Field(default=None, max_length=500)
    # The chat the update belongs to (Checked.chat); None for updates stored before migration 0012.
    chat_key: str | None = Field(default=None, max_length=100)
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = None  # None: due now
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = None


class ProcessedMessage(SQLModel, table=True):
    """A platform message already handled: a retried delivery is skipped."""

    __tablename__ = "processed_message"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "message_id", name="uq_processed_message"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64)
    message_id: str = Field(max_length=64)
    processed_at: datetime = Field(default_factory=utcnow)
