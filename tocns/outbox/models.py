"""The outbox: every message the bot sends is a row, drained by the sender under rate limits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class OutboxState(StrEnum):
    """Where an outgoing message is in its life."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # a recalled directive's unsent copies


class OutboxMessage(SQLModel, table=True):
    """One message to send to one chat."""

    __tablename__ = "outbox"
    # The id last: rows queued together share next_attempt_at, and a claim takes them in id order without a sort.
    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64, index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # JSON list of {"filename", "mime_type", "path"}: files written under the data directory.
    attachments: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # reply, reminder, escalation, nudge, digest, summary, directive, ...
    kind: str = Field(default="reply", max_length=30, index=True)
    # Jobs set a key per (what, whom, when): a second run or a second process never enqueues twice.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    state: str = Field(default=OutboxState.PENDING, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    # A sender owns a row in state `sending` until lease_until; after a crash the lease lapses and another
    # sender takes it again (the only way a message can be sent twice).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    # When several replies to one busy chat went out as one message, the others point at the one sent.
    merged_into_id: int | None = Field(default=None)
    # Pieces (text parts, then attachments) of a long message already delivered: a retry after a failure part
    # way through resumes after them instead of repeating them in the chat.
    parts_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The forum topic to post in (Telegram message_thread_id); None for the chat's main thread.
    thread_id: str | None = Field(default=None, max_length=32)
    # JSON list of {"label", "command"}: commands offered as buttons where the platform has them (core Button).
    buttons: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
