"""Tables for monthly tasks: the task, its assignees (people or teams) and per-commune reminder settings."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from tocns.core.clock import utcnow


class TaskScope(StrEnum):
    """Whom a task is assigned to."""

    PEOPLE = "people"
    TEAM = "team"
    COMMUNE = "commune"


class TaskStatus(StrEnum):
    """Whether a task is still running; completion is tracked per assignee."""

    OPEN = "open"
    CANCELLED = "cancelled"


class Task(SQLModel, table=True):
    """A task with a deadline, posted in a group and owned by a commune."""

    __tablename__ = "task"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="org_unit.id", index=True)
    title: str = Field(sa_column=Column(Text, nullable=False))
    due_date: date = Field(index=True)
    scope: str = Field(max_length=10)
    # "2026-12" when the task was posted as part of a month's plan.
    plan_month: str | None = Field(default=None, max_length=7, index=True)
    # Where it was posted: reminders go back to this chat.
    platform: str = Field(max_length=20)
    chat_id: str = Field(max_length=64)
    # The forum topic it was given in (Telegram message_thread_id): its reminders go back to that topic.
    thread_id: str | None = Field(default=None, max_length=32)
    created_by_person_id: int = Field(foreign_key="person.id")
    status: str = Field(default=TaskStatus.OPEN, max_length=10, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    # When the reminder job next has something to look at (UTC); NULL once nothing more can be due. The job
    # stores it after each look, so an idle minute reads only the due tasks (docs/holidays.md keeps the days).
    next_due_at: datetime | None = Field(default=None, index=True)
    cancelled_at: datetime | None = None
    cancelled_by_person_id: int | None = Field(default=None, foreign_key="person.id")


class TaskAssignee(SQLModel, table=True):
    """One person or one team a task is assigned to, with its own completion."""

    __tablename__ = "task_assignee"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="task.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    completed_at: datetime | None = None
    completed_by_person_id: int | None = Field(default=None, foreign_key="person.id")
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class TaskReminderSetting(SQLModel, table=True):
    """A commune's own reminder lead times (days before the deadline) and escalation delay."""

    __tablename__ = "task_reminder_setting"

    id: int | None = Field(default=None, primary_key=True)
    commune_id: int = Field(foreign_key="org_unit.id", unique=True)
    # Comma-separated days before the deadline, e.g. "3,1,0".
    lead_days: str = Field(max_length=50)
    escalate_after_days: int
    updated_at: datetime = Field(default_factory=utcnow)
