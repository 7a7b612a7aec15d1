"""Directives from the department: the directive, each target group, acknowledgements, and the API's idempotency
keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class DirectiveState(StrEnum):
    """Where a directive is in its life."""

    PENDING = "pending"
    SENT = "sent"
    RECALLED = "recalled"


class Directive(SQLModel, table=True):
    """A directive sent by department staff to the groups of a scope."""

    __tablename__ = "directive"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    scope_label: str = Field(max_length=500)
    created_by_person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)
    # pending (a chat directive to several communes waits for /xacnhan), sent, recalled (/thuhoi).
    state: str = Field(default=DirectiveState.SENT, max_length=10, sa_column_kwargs={"server_default": "sent"})
    # Sent as soon as queued, even in quiet hours ("/chidao khẩn: ...").
    urgent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # While pending: the JSON list of commune ids resolved when it was written, sent as-is on /xacnhan.
    pending_communes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recalled_at: datetime | None = None


class DirectiveTarget(SQLModel, table=True):
    """One group a directive goes to, with the commune it counts for and its outbox row."""

    __tablename__ = "directive_target"
    __table_args__ = (UniqueConstraint("directive_id", "platform", "chat_id", name="uq_directive_target_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    directive_id: int = Field(foreign_key="directive.id", index=True)
    commune_id: int = Field(foreign_key="org_unit.id")
    org_unit_id: int = Field(foreign_key="org_unit.id")
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")


class DirectiveAck(SQLModel, table=True):
    """A person's acknowledgement of a directive, counted for a commune."""

    __tablename__ = "directive_ack"
    __table_args__ = (UniqueConstraint("directive_id", "person_id", name="uq_directive_ack_person"),)

    id: int | None = Field(default=None, primary_key=True)
    directive_id: int = Field(foreign_key="directive.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    commune_id: int | None = Field(default=None, foreign_key="org_unit.id")
    # The role the person held in that commune (or one of its teams) when acknowledging, shown by /tinhtrang.
    role: str | None = Field(default=None, max_length=20)
    acked_at: datetime = Field(default_factory=utcnow)


class DirectiveApiRequest(SQLModel, table=True):
    """A POST that carried an Idempotency-Key: its retry returns the same directive instead of a second one."""

    __tablename__ = "directive_api_request"
    # Keys are per token: two systems may well both send "1".
    __table_args__ = (UniqueConstraint("api_token_id", "idempotency_key", name="uq_directive_api_request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_token_id: int = Field(foreign_key="api_token.id")
    idempotency_key: str = Field(max_length=200)
    # SHA-256 of the request body, so the same key with a different body is refused rather than ignored.
    request_hash: str = Field(max_length=64)
    directive_id: int = Field(foreign_key="directive.id")
    # The JSON answered the first time, answered again verbatim to a retry.
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
