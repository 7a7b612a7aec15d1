"""Rollups: equal to sums over raw rows after any sequence of records, corrections, deletions and abandoned
transactions; rebuilt from raw rows by `tocns rollup rebuild`; the hierarchy filter uses the path index."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.cli.test_cli import run_cli
from tests.factories import VN, add_indicators, build_tree
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.features.activity import store as activity_store
from tocns.features.org import store as org_store
from tocns.features.reports.service import unit_report
from tocns.features.rollups import store

WEEK = week_of(date(2026, 11, 16))

# One step: (kind, team index, day offset, {indicator index: quantity}, days late, local hour, record pick).
steps = st.lists(
    st.tuples(
        st.sampled_from(["create", "create", "correct", "delete", "abandon", "move", "toggle"]),
        st.integers(0, 3),
        st.integers(-3, 9),
        st.dictionaries(st.integers(0, 2), st.integers(1, 50), min_size=1, max_size=3),
        st.integers(0, 4),
        st.sampled_from([0, 6, 23]),  # 23:00 two days late is timely, 00:00 three days late is not
        st.integers(0, 1000),
    ),
    min_size=1,
    max_size=12,
)


def _local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 30 if hour == 23 else 0), tzinfo=VN).astimezone(UTC)


async def _world(app: BotApp) -> tuple[list, list, object]:
    """The tree, indicators and a person, made once per test (examples share the database)."""
    async with app.db.session() as session:
        teams = [u for u in await org_store.list_units(session) if u.level == "team"]
        if not teams:
            tree = await build_tree(session)
            await add_indicators(session)
            teams = tree.teams + tree.other_teams
        indicators = await activity_store.indicators(session)
        person = await org_store.upsert_person(
            session, platform="console", user_id="p", display_name="Lan", username=None, private_chat_id=None,
            now=datetime(2026, 11, 20, tzinfo=UTC),
        )  # fmt: skip
    return teams, indicators, person


async def _reorganise(app: BotApp, kind: str, team_id: int, pick: int) -> None:
    """Move a team to another commune (as an administrator's edit would) or switch it off or on: the commune
    rollups follow (the trigger on org_unit of migration 0026)."""
    async with app.db.session() as session:
        conn = await session.connection()
        if kind == "toggle":
            await conn.execute(text("UPDATE org_unit SET active = NOT active WHERE id = :id"), {"id": team_id})
            return
        communes = (await conn.execute(text("SELECT id, path FROM org_unit WHERE level = 'commune' ORDER BY id"))).all()
        commune_id, path = communes[pick % len(communes)]
        await conn.execute(
            text("UPDATE org_unit SET parent_id = :parent, path = :path WHERE id = :id"),
            {"parent": commune_id, "path": f"{path}{team_id}/", "id": team_id},
        )


async def _apply(app: BotApp, step: tuple, teams: list, indicators: list, person: object) -> None:
    kind, team_i, offset, items, late, hour, pick = step
    if kind in ("move", "toggle"):
        await _reorganise(app, kind, teams[team_i].id, pick)
        return
    day = WEEK.start + timedelta(days=offset)
    now = _local(day + timedelta(days=late), hour)
    chosen = [(indicators[i], q) for i, q in sorted(items.items())]
    async with app.db.session() as session:
        # In id order: PostgreSQL returns rows in whatever order its heap holds them, and the example picks by index.
        live_ids = text("SELECT id FROM activity_record WHERE deleted_at IS NULL ORDER BY id")
        live = (await session.connection()).execute(live_ids)
        ids = [row[0] for row in (await live).all()]
        if kind in ("create", "abandon") or not ids:
            await activity_store.create_record(
                session, person=person, team=teams[team_i], activity_date=day, items=chosen, note=None,
                message_text="/ghi", photo=None, platform="console", chat_id="g", message_id=None, now=now,
            )  # fmt: skip
            if kind == "abandon":
                await session.rollback()
            return
        view = await activity_store.get_record(session, ids[pick % len(ids)])
        assert view is not None
        if kind == "correct":
            await activity_store.replace_items(
                session, view, items=chosen, activity_date=day, note="sửa", message_text="/sua", actor=person, now=now
            )
        else:
            await activity_store.soft_delete(session, view, actor=person, now=now)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
async def test_rollups_equal_raw_rows_after_any_sequence(app: BotApp, sequence: list[tuple]) -> None:
    teams, indicators, person = await _world(app)
    for step in sequence:
        await _apply(app, step, teams, indicators, person)
    async with app.db.session() as session:
        assert await store.differences(session) == []


async def test_rebuild_repairs_a_damaged_rollup_and_the_report_reads_it(app: BotApp, db_url: str) -> None:
    teams, indicators, person = await _world(app)
    for step in [
        ("create", 0, 1, {0: 5}, 0, 6, 0),
        ("create", 1, 2, {1: 7}, 4, 6, 0),
        ("correct", 0, 2, {0: 9}, 0, 6, 0),
    ]:
        await _apply(app, step, teams, indicators, person)
    async with app.db.session() as session:
        province = await org_store.get_unit_by_code(session, "P01")
        assert province is not None
        before = await unit_report(session, province, WEEK, app.settings, app.clock())
        await (await session.connection()).execute(text("UPDATE rollup_team_day SET quantity = quantity + 1000"))
        await (await session.connection()).execute(text("DELETE FROM rollup_team_day_records"))
        await (await session.connection()).execute(
            text("UPDATE rollup_commune_day SET quantity = quantity + 1000 WHERE quantity <> 0")
        )
    async with app.db.session() as session:
        # Two quantities, the zero the correction left on its old day, two record counts; the commune's two
        # quantities.
        assert len(await store.differences(session)) == 7
        damaged = await unit_report(session, province, WEEK, app.settings, app.clock())
        assert damaged.total_quantity == before.total_quantity + 3000 and damaged.records == 0
    async with app.db.session() as session:
        indexes_before = await _indexes(session)
    assert len(indexes_before) >= 6
    checked = run_cli(["rollup", "check"], db_url)
    assert checked.returncode == 1 and "lệch 7 số liệu" in checked.stdout
    rebuilt = run_cli(["rollup", "rebuild"], db_url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "2 dòng số lượng (tổ" in rebuilt.stdout and "2 dòng số phiếu (tổ" in rebuilt.stdout
    assert "2 dòng số lượng (xã, chỉ tiêu, ngày), 1 dòng số phiếu (xã, ngày)" in rebuilt.stdout
    async with app.db.session() as session:
        assert await store.differences(session) == []
        after = await unit_report(session, province, WEEK, app.settings, app.clock())
    assert (after.total_quantity, after.records, after.timely_records) == (16, 2, 1)
    assert after.to_dict() == {**before.to_dict(), "generated_at": after.generated_at.isoformat()}
    # The rebuild dropped and rebuilt the indexes on PostgreSQL: a record after it still lands in the rollups
    # (its upsert needs the unique key back) and the reports' indexes are all there.
    await _apply(app, ("create", 0, 1, {0: 4}, 0, 6, 0), teams, indicators, person)
    async with app.db.session() as session:
        assert await store.differences(session) == []
        assert await _indexes(session) == indexes_before
    assert run_cli(["rollup", "check"], db_url).stdout.strip() == "Bảng tổng hợp khớp với các phiếu."


async def _indexes(session: AsyncSession) -> set[str]:
    """The rollup tables' index names (from the database's catalogue)."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        sql = "SELECT indexname FROM pg_indexes WHERE tablename IN ('rollup_team_day', 'rollup_team_day_records')"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'rollup_team_day%'"
    return {row[0] for row in (await conn.execute(text(sql))).all()}


async def test_the_hierarchy_filter_range_scans_the_path_index(app: BotApp, is_postgres: bool) -> None:
    async with app.db.session() as session:
        tree = await build_tree(session)
        await session.flush()
        conn = await session.connection()
        dialect = "postgresql" if is_postgres else "sqlite"
        where = store.under_path(dialect, "path", tree.province.path)
        if is_postgres:
            # A handful of rows would be scanned whatever the plan: forbid the scan to see which index may serve.
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = (await conn.execute(text(f"EXPLAIN SELECT id FROM org_unit WHERE {where}"))).all()
            assert "ix_org_unit_path_prefix" in str(plan), plan
        else:
            plan = (await conn.execute(text(f"EXPLAIN QUERY PLAN SELECT id FROM org_unit WHERE {where}"))).all()
            assert "INDEX ix_org_unit_path (path>? AND path<?)" in str(plan), plan
        count = (await conn.execute(text(f"SELECT COUNT(*) FROM org_unit WHERE {where}"))).scalar_one()
    assert count == 7  # the province, two communes, four teams
    with pytest.raises(ValueError):
        store.under_path("postgresql", "path", "/1/' OR '1' = '1")


async def test_the_bound_subtree_range_reads_the_unit_and_below_only(app: BotApp, is_postgres: bool) -> None:
    """A unit's subtree as a bound range: the same SQL for every unit, through the path index, and "/1/2/" never
    takes in "/1/20/" (a sibling whose id starts with the same digits)."""
    async with app.db.session() as session:
        tree = await build_tree(session)
        await session.flush()
        conn = await session.connection()
        dialect = "postgresql" if is_postgres else "sqlite"
        where = store.under_range(dialect, "path")
        paths = [p for (p,) in (await conn.execute(text("SELECT path FROM org_unit"))).all()]
        for path in paths:
            # Exactly the paths that start with the unit's own, whatever the ids.
            bound = store.path_range(path)
            found = (await conn.execute(text(f"SELECT path FROM org_unit WHERE {where}"), bound)).scalars().all()
            assert sorted(found) == sorted(p for p in paths if p.startswith(path))
        assert store.path_range("/1/2/") == {"under": "/1/2/", "under_end": "/1/20"}
        assert "/1/2/" <= "/1/2/77/" < "/1/20" <= "/1/20/"
        province = store.path_range(tree.province.path)
        if is_postgres:
            await conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = (await conn.execute(text(f"EXPLAIN SELECT id FROM org_unit WHERE {where}"), province)).all()
            assert "ix_org_unit_path_prefix" in str(plan), plan
        else:
            plan = (
                await conn.execute(text(f"EXPLAIN QUERY PLAN SELECT id FROM org_unit WHERE {where}"), province)
            ).all()
            assert "INDEX ix_org_unit_path (path>? AND path<?)" in str(plan), plan
    with pytest.raises(ValueError):
        store.path_range("/1/' OR '1' = '1")
