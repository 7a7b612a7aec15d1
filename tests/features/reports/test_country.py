"""The whole country's report: its quantities and records summed from the commune rollups (migration 0026), equal
to independent sums over its active teams' records, after teams move between provinces or are switched off."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text

from tests.factories import DEFAULT_INDICATORS, VN, count_statements, make_logger
from tests.factories import build_tree as build_province
from tocns.app import BotApp
from tocns.core.period import week_of
from tocns.core.roles import Level
from tocns.features.org import store as org_store
from tocns.features.reports.store import build_report

WEEK = week_of(date(2026, 11, 16))
PREVIOUS = WEEK.previous()
DATES = (WEEK.start, WEEK.end, PREVIOUS.start, PREVIOUS.end)
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def _local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=VN).astimezone(UTC)


async def _country(app: BotApp) -> list[tuple[str, date, dict[str, int], datetime, bool]]:
    """Two provinces under the nation, a team right under the nation, random records over both weeks (some deleted,
    some late); then a team moved to the other province's commune and another switched off, as an administrator's
    edit would. Returns (team code, day, items, created at, deleted) per record."""
    rnd = random.Random(5)
    logged: list[tuple[str, date, dict[str, int], datetime, bool]] = []
    async with app.db.session() as session:
        tree = await build_province(session)
        second = await org_store.create_unit(session, code="P02", name="Tỉnh Hai", level=Level.PROVINCE)
        commune = await org_store.create_unit(session, code="X3", name="Xã Ba", level=Level.COMMUNE, parent=second)
        far = await org_store.add_team(session, "X3", "Tổ 1")
        await org_store.ensure_national(session, "test")
        top = await org_store.add_team(session, "VN", "Tổ Trung ương")
        logger = await make_logger(session, NOW)
        teams = [*tree.teams, *tree.other_teams, far, top]
        codes = [c for c, _, _ in DEFAULT_INDICATORS]
        for _ in range(80):
            team = rnd.choice(teams[1:])  # teams[0] (Thôn 1 of X1) stays silent
            day = PREVIOUS.start + timedelta(days=rnd.randint(-2, 15))
            items = {c: rnd.randint(1, 20) for c in rnd.sample(codes, rnd.randint(1, 3))}
            created = _local(day + timedelta(days=rnd.choice([0, 1, 2, 3, 5])), rnd.randint(0, 23))
            deleted = rnd.random() < 0.15
            await logger.log(team, day, items, created, deleted_at=created + timedelta(hours=1) if deleted else None)
            logged.append((team.code, day, items, created, deleted))
        conn = await session.connection()
        moved = tree.teams[1]
        await conn.execute(
            text("UPDATE org_unit SET parent_id = :parent, path = :path WHERE id = :id"),
            {"parent": commune.id, "path": f"{commune.path}{moved.id}/", "id": moved.id},
        )
        switched_off = {"false": False, "id": tree.teams[2].id}
        await conn.execute(text("UPDATE org_unit SET active = :false WHERE id = :id"), switched_off)
    return logged


async def test_the_country_report_sums_the_communes_and_equals_its_teams_records(app: BotApp) -> None:
    logged = await _country(app)
    async with app.db.session() as session:
        national = await org_store.require_unit(session, "VN")
        units = {u.id: u for u in await org_store.list_units(session)}
        statements, stop = count_statements(app)
        try:
            report, _tasks, _targets = await build_report(session, national, DATES, NOW, team_rows=False)
        finally:
            stop()
    # Independently: each active team's child of the nation (its province, or itself right under the nation).
    child_of = {}
    for unit in units.values():
        if unit.level == Level.TEAM and unit.active:
            first = int(unit.path.split("/")[2])
            child_of[unit.code] = units[first].code
    quantities: dict[str, dict[str, int]] = {}
    previous: dict[str, int] = {}
    records: dict[str, int] = {}
    reporting: dict[str, set[str]] = {}
    for team, day, items, _created, deleted in logged:
        if deleted or team not in child_of:
            continue
        child = child_of[team]
        if WEEK.start <= day <= WEEK.end:
            for code, qty in items.items():
                quantities.setdefault(child, {}).setdefault(code, 0)
                quantities[child][code] += qty
            records[child] = records.get(child, 0) + 1
            reporting.setdefault(child, set()).add(team)
        elif PREVIOUS.start <= day <= PREVIOUS.end:
            previous[child] = previous.get(child, 0) + sum(items.values())
    children = {c.code: c for c in report.children}
    assert set(children) == {"P01", "P02", "VN-T01"}
    for code, child in children.items():
        assert child.by_indicator == quantities.get(code, {})
        assert (child.records, child.reporting_teams) == (records.get(code, 0), len(reporting.get(code, set())))
        assert child.previous_quantity == previous.get(code, 0)
    # The moved team counts in P02 (its records came with it); the switched-off one nowhere.
    assert children["P02"].teams == 2 and children["P01"].teams == 2
    totals = {t.code: t.quantity for t in report.totals}
    assert totals == {c: sum(q.get(c, 0) for q in quantities.values()) for c in totals}
    assert report.records == sum(records.values()) and report.reporting_teams == sum(map(len, reporting.values()))
    assert [t.code for t in report.silent_teams] == ["X1-T01"]
    # One statement, and the country's quantities come from the communes' rows, not every team's.
    assert len(statements) == 1
    assert "FROM rollup_commune_day r" in statements[0]
    assert "FROM rollup_team_day r JOIN team_child" not in statements[0]


async def test_the_country_report_equals_the_team_rollups_sums(app: BotApp) -> None:
    """Each province's figures in the country's report are the province's own report's (read from team rows)."""
    await _country(app)
    async with app.db.session() as session:
        national = await org_store.require_unit(session, "VN")
        country, _tasks, _targets = await build_report(session, national, DATES, NOW, team_rows=False)
        for child in country.children:
            unit = await org_store.require_unit(session, child.code)
            own, _tasks, _targets = await build_report(session, unit, DATES, NOW, team_rows=False)
            assert (child.teams, child.reporting_teams, child.records, child.timely_records) == (
                own.teams, own.reporting_teams, own.records, own.timely_records,
            )  # fmt: skip
            assert child.by_indicator == {t.code: t.quantity for t in own.totals if t.quantity}
            assert child.previous_quantity == sum(t.previous for t in own.totals)
