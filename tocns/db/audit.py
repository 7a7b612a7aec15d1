"""The audit log: every change, with who made it and the record before and after."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, Text, insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.db.upsert import table_of


class AuditLog(SQLModel, table=True):
    """One row per change: who did what to which record, with before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_person_id: int | None = Field(default=None, foreign_key="person.id")
    actor_label: str | None = Field(default=None, max_length=100)
    action: str = Field(max_length=50)
    entity: str = Field(max_length=50)
    entity_id: str = Field(max_length=64)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def snapshot(obj: SQLModel | dict[str, Any] | None) -> str | None:
    """Serialize a record (or a dict) to JSON for the audit log."""
    if obj is None:
        return None
    data = obj if isinstance(obj, dict) else obj.model_dump()
    return json.dumps(data, ensure_ascii=False, default=_default, sort_keys=True)


def _values(
    action: str,
    entity: str,
    entity_id: object,
    actor_person_id: int | None,
    actor_label: str | None,
    before: SQLModel | dict[str, Any] | None,
    after: SQLModel | dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns of one audit row (one row or many)."""
    return {
        "actor_person_id": actor_person_id,
        "actor_label": actor_label,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "before": snapshot(before),
        "after": snapshot(after),
    }


AUDIT_TABLE = table_of(AuditLog)
_AUDIT_INSERT = insert(AUDIT_TABLE)


def audit_values(
    *,
    action: str,
    entity: str,
    entity_id: object,
    actor_person_id: int | None = None,
    actor_label: str | None = None,
    before: SQLModel | dict[str, Any] | None = None,
    after: SQLModel | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row's columns as `record_audit` writes them, for a store that folds the row into its own
    statement (the /ghi hot path on PostgreSQL)."""
    return {"at": utcnow(), **_values(action, entity, entity_id, actor_person_id, actor_label, before, after)}


async def record_audit(
    session: AsyncSession,
    *,
    action: str,
    entity: str,
    entity_id: object,
    actor_person_id: int | None = None,
    actor_label: str | None = None,
    before: SQLModel | dict[str, Any] | None = None,
    after: SQLModel | dict[str, Any] | None = None,
) -> None:
    """Write one audit row now, in the caller's transaction, as a plain INSERT (no ORM object to track: the hot path
    of /ghi writes one per record)."""
    # Pending ORM rows (e.g. earlier audit rows) go first, so audit ids keep the order of the changes.
    await session.flush()
    conn = await session.connection()
    values = _values(action, entity, entity_id, actor_person_id, actor_label, before, after)
    await conn.execute(_AUDIT_INSERT, {"at": utcnow(), **values})


async def append_audit_rows(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Write many audit rows in one executemany INSERT (bulk imports); each entry holds record_audit's keywords."""
    if not entries:
        return
    await session.flush()
    conn = await session.connection()
    stamp = utcnow()
    rows = [
        {
            "at": stamp,
            **_values(
                e["action"],
                e["entity"],
                e["entity_id"],
                e.get("actor_person_id"),
                e.get("actor_label"),
                e.get("before"),
                e.get("after"),
            ),
        }
        for e in entries
    ]
    await conn.execute(_AUDIT_INSERT, rows)


async def audit_trail(session: AsyncSession, entity: str, entity_id: object) -> list[AuditLog]:
    """Every audit row of one record, oldest first."""
    result = await session.exec(
        select(AuditLog)
        .where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
        .order_by(col(AuditLog.id))
    )
    return list(result.all())
