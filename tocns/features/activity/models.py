"""Tables for activity logging: the indicator catalogue, records and their items."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class Indicator(SQLModel, table=True):
    """A kind of field work that is counted (VNeID activations, online public services, ...)."""

    __tablename__ = "indicator"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=40)
    name: str = Field(max_length=200)
    unit: str = Field(max_length=40)
    # JSON list of the words villagers type for it, with and without diacritics.
    aliases: str = Field(default="[]", sa_column=Column(Text, nullable=False, server_default="[]"))
    max_per_message: int = 500
    sort_order: int = 100
    active: bool = True


class ActivityRecord(SQLModel, table=True):
    """One `/ghi` message: who logged what for which team on which day."""

    __tablename__ = "activity_record"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", name="uq_activity_record_message"),
        Index("ix_activity_record_unit_date", "org_unit_id", "activity_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    # The team the record belongs to (from the person's membership).
    org_unit_id: int = Field(foreign_key="org_unit.id")
    activity_date: date = Field(index=True)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_text: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    photo: str | None = Field(default=None, max_length=1000)
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64)
    message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by_person_id: int | None = Field(default=None, foreign_key="person.id")


class ActivityItem(SQLModel, table=True):
    """One indicator and quantity inside a record."""

    __tablename__ = "activity_item"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="activity_record.id", index=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    quantity: int


class PhotoEvidence(SQLModel, table=True):
    """The photo sent with a `/ghi`, being fetched from its platform into FILES_DIR (retried until kept or given up)."""

    __tablename__ = "photo_evidence"
    # keep_photos reads the pending rows due, oldest first: a range of this index stopped by its LIMIT, never the
    # kept and failed history.
    __table_args__ = (Index("ix_photo_evidence_due", "state", "next_attempt_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="activity_record.id", unique=True)
    platform: str = Field(max_length=20)
    # What the platform gave: a Telegram file id, a Zalo photo URL, a console file path.
    source: str = Field(max_length=1000)
    # pending (to fetch at next_attempt_at), kept (the record's photo now reads "files:<path>"), failed (given up).
    state: str = Field(default="pending", max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
