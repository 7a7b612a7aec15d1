"""Process-wide locks held in the database (PostgreSQL advisory locks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from tocns.db.engine import Database


@asynccontextmanager
async def advisory_lock(db: Database, key: int, wait: bool) -> AsyncIterator[bool]:
    """Hold PostgreSQL advisory lock `key` for the block; yields False if `wait` is off and another holds it.

    On SQLite there is one writer at a time anyway, so the lock is always granted.
    """
    if db.is_sqlite:
        yield True
        return
    async with db.engine.connect() as conn:
        if wait:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            got = True
        else:
            got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})).scalar())
        await conn.commit()
        if not got:
            yield False
            return
        try:
            yield True
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await conn.commit()
