"""INSERT ... ON CONFLICT for both dialects: one round trip instead of a savepoint dance, built once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.dialect import dialect_of


def per_dialect(build: Callable[[Any], Any]) -> Callable[[AsyncSession], Any]:
    """Memoise a statement built from the dialect's `insert` construct, once per dialect.

    The hot path executes the same statement object with new parameters each time: building one per call costs
    more CPU than running it (coercion of every value), and a fixed shape always hits the compiled cache.
    """
    built: dict[str, Any] = {}

    def statement(session: AsyncSession) -> Any:
        dialect = dialect_of(session)
        stmt = built.get(dialect)
        if stmt is None:
            stmt = built[dialect] = build(pg_insert if dialect == "postgresql" else sqlite_insert)
        return stmt

    return statement


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class, for statements that need no ORM objects."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
