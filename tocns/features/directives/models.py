"""Directives from the department: the directive, each target group, and acknowledgements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class Directive(SQLModel, table=True):
    """A directive sent by department staff to the groups of a scope."""

    __tablename__ = "directive"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    scope_label: str = Field(max_length=500)
    created_by_person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = Field(default_factory=utcnow, index=True)


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
    acked_at: datetime = Field(default_factory=utcnow)
