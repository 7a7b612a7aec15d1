"""The scheduler's advisory lock: one process runs the jobs, another skips the minute or waits."""

from __future__ import annotations

import pytest

from tocns.db.engine import Database
from tocns.db.locks import advisory_lock

KEY = 424242


async def test_second_holder_is_refused_while_the_first_holds(db: Database, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("advisory locks exist on PostgreSQL; SQLite always grants")
    other = Database(db.url)
    try:
        async with advisory_lock(db, KEY, wait=False) as first:
            assert first is True
            async with advisory_lock(other, KEY, wait=False) as second:
                assert second is False
        async with advisory_lock(other, KEY, wait=False) as after_release:
            assert after_release is True
    finally:
        await other.dispose()


async def test_sqlite_always_grants(db: Database, is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite behaviour")
    async with advisory_lock(db, KEY, wait=False) as first, advisory_lock(db, KEY, wait=False) as second:
        assert first and second
