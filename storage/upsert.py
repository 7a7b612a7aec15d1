"""INSERT ... ON CONFLICT DO NOTHING for both dialects: one round trip instead of a savepoint dance."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def insert_or_nothing(
    session: AsyncSession, model: type[SQLModel], values: dict[str, Any], conflict_on: list[str]
) -> Any:
    """Insert a row unless it conflicts on `conflict_on`; the new ORM object (in the session), or None."""
    statement = (
        _insert(session)(model).values(**values).on_conflict_do_nothing(index_elements=conflict_on).returning(model)
    )
    return (await session.exec(statement)).scalars().first()
