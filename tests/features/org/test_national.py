"""A national unit above the provinces: created by the imports, and by migration 0019 for existing databases."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text

from tests.cli.test_cli import run_cli
from tests.factories import build_tree
from tocns.app import BotApp
from tocns.db.engine import Database, alembic_config, upgrade_database
from tocns.features.org import store as org_store


async def test_the_provinces_move_under_the_nation_with_their_subtrees(app: BotApp) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        depth, path = tree.teams[0].depth, tree.teams[0].path
        national = await org_store.ensure_national(session, "test")
        assert await org_store.ensure_national(session, "test") is national  # once
    async with app.db.session() as session:
        team = await org_store.require_unit(session, tree.teams[0].code)
        chain = [(u.code, u.level) for u in await org_store.ancestors(session, team)]
        assert chain[:2] == [("VN", "national"), ("P01", "province")]
        assert (team.depth, team.path) == (depth + 1, f"/{national.id}{path}")
        below = {u.code for u in await org_store.descendants(session, national)}
        assert {"P01", "X1", "X2", tree.teams[0].code} <= below


async def test_org_import_lists_the_nation_first(app: BotApp, db_url: str) -> None:
    run_cli(["org", "import", "--province", "01"], db_url)
    listed = run_cli(["org", "list", "--depth", "1"], db_url).stdout.splitlines()
    assert listed[0] == "VN\tCả nước\t[national]" and listed[1].startswith("  01\t"), listed[:2]


def _rows(url: str, sql: str) -> list[tuple]:
    async def go() -> list[tuple]:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                result = await conn.execute(text(sql))
                return [tuple(r) for r in result.all()] if result.returns_rows else []
        finally:
            await db.dispose()

    return asyncio.run(go())


def _migrate_existing_tree(url: str) -> None:
    """A database at 0018 with a province at the root, then up to 0019 and back down."""
    upgrade_database(url, "0018")
    _rows(
        url,
        "INSERT INTO org_unit (id, code, name, name_folded, level, parent_id, path, depth, active, created_at) "
        "VALUES (1, 'P01', 'Tỉnh', 'tinh', 'province', NULL, '/1/', 0, true, '2026-12-01 00:00:00'), "
        "(2, 'X1', 'Xã', 'xa', 'commune', 1, '/1/2/', 1, true, '2026-12-01 00:00:00'), "
        "(3, 'X1-T01', 'Thôn', 'thon', 'team', 2, '/1/2/3/', 2, true, '2026-12-01 00:00:00')",
    )
    if url.startswith("postgresql"):  # ids given by hand: the sequence moves past them, as inserts would have
        _rows(url, "SELECT setval('org_unit_id_seq', 3)")
    upgrade_database(url, "0019")
    units = {r[0]: r[1:] for r in _rows(url, "SELECT code, level, parent_id, path, depth FROM org_unit")}
    nid = _rows(url, "SELECT id FROM org_unit WHERE code = 'VN'")[0][0]
    assert units["VN"] == ("national", None, f"/{nid}/", 0)
    assert units["P01"] == ("province", nid, f"/{nid}/1/", 1)
    assert units["X1-T01"] == ("team", 2, f"/{nid}/1/2/3/", 3)
    command.downgrade(alembic_config(url), "0018")
    units = {r[0]: r[1:] for r in _rows(url, "SELECT code, level, parent_id, path, depth FROM org_unit")}
    assert units == {
        "P01": ("province", None, "/1/", 0),
        "X1": ("commune", 1, "/1/2/", 1),
        "X1-T01": ("team", 2, "/1/2/3/", 2),
    }


def test_migration_0019_on_sqlite(tmp_path: Path) -> None:
    _migrate_existing_tree(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


def test_migration_0019_on_postgres(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("runs in the PostgreSQL pass (TEST_DATABASE_URL)")
    name = f"tocns_nat_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        _migrate_existing_tree(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
