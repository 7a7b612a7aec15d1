"""Migrations upgrade an empty database on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import inspect

from tocns.db.engine import Database, current_revision, upgrade_database

EXPECTED_TABLES = {
    "org_unit",
    "chat_binding",
    "person",
    "membership",
    "join_code",
    "audit_log",
    "processed_message",
    "indicator",
    "activity_record",
    "activity_item",
    "outbox",
}


async def _tables(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await db.dispose()


async def _head_and_tables(url: str) -> tuple[str | None, set[str]]:
    import asyncio

    await asyncio.to_thread(upgrade_database, url)
    return await current_revision(url), await _tables(url)


async def test_sqlite_empty_database_upgrades(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'new.db'}"
    revision, tables = await _head_and_tables(url)
    assert revision is not None
    assert tables >= EXPECTED_TABLES


async def test_postgres_empty_database_upgrades(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("runs in the PostgreSQL pass (TEST_DATABASE_URL)")
    name = f"tocns_migr_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        revision, tables = await _head_and_tables(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        assert revision is not None
        assert tables >= EXPECTED_TABLES
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_default_catalogue_is_seeded_by_the_migration(tmp_path: Path) -> None:
    # Seeded before any worker starts: two workers on a fresh database no longer race to insert it at first use.
    from sqlalchemy import text

    from tocns.features.activity.grammar import default_specs

    url = f"sqlite+aiosqlite:///{tmp_path / 'seeded.db'}"
    await _head_and_tables(url)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT code, sort_order FROM indicator ORDER BY sort_order"))).all()
            audit = (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar()
    finally:
        await db.dispose()
    assert [code for code, _ in rows] == [spec.code for spec in default_specs()]
    assert [order for _, order in rows] == [10 * i for i in range(1, len(rows) + 1)]
    assert audit == 0
