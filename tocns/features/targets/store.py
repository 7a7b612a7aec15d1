"""The targets feature's SQL: targets (audited), denominators, and year-to-date totals from the monthly totals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.audit import record_audit
from tocns.db.dialect import dialect_of
from tocns.features.activity.models import Indicator
from tocns.features.org.models import OrgUnit, Person
from tocns.features.rollups.store import under_path, under_range
from tocns.features.targets.models import WHOLE_YEAR, Target, UnitPopulation


async def get_target(
    session: AsyncSession, unit_id: int, indicator_id: int, year: int, month: int = WHOLE_YEAR
) -> Target | None:
    """The target of one unit, indicator and year (month 0) or month."""
    result = await session.exec(
        select(Target).where(
            Target.org_unit_id == unit_id,
            Target.indicator_id == indicator_id,
            Target.year == year,
            Target.month == month,
        )
    )
    return result.first()


async def set_target(
    session: AsyncSession,
    *,
    unit: OrgUnit,
    indicator: Indicator,
    year: int,
    month: int,
    value: int,
    actor: Person | None,
    now: datetime,
    share_of: str | None = None,
    share_percent: int | None = None,
    actor_label: str | None = None,
) -> Target | None:
    """Create, change or (value 0) remove a target, audited like records; returns the target (None if removed)."""
    row = await get_target(session, unit.id or 0, indicator.id or 0, year, month)
    before = row.model_dump() if row is not None else None
    actor_id = actor.id if actor is not None else None
    if value == 0:
        if row is not None:
            await session.delete(row)
            await record_audit(
                session, action="delete", entity="target", entity_id=row.id, actor_person_id=actor_id,
                actor_label=actor_label, before=before,
            )  # fmt: skip
        return None
    if row is None:
        row = Target(org_unit_id=unit.id or 0, indicator_id=indicator.id or 0, year=year, month=month, value=value)
        row.created_at = now
    else:
        row.updated_at = now
    row.value = value
    row.share_of = share_of
    row.share_percent = share_percent
    row.set_by_person_id = actor_id
    session.add(row)
    await session.flush()
    await record_audit(
        session, action="create" if before is None else "edit", entity="target", entity_id=row.id,
        actor_person_id=actor_id, actor_label=actor_label, before=before, after=row,
    )  # fmt: skip
    return row


class TargetLine(NamedTuple):
    """A target with what progress needs of its unit and indicator (read as plain rows: a province has thousands)."""

    month: int
    value: int
    share_of: str | None
    share_percent: int | None
    unit_id: int
    unit_code: str
    unit_name: str
    unit_level: str
    parent_id: int | None
    depth: int
    indicator_id: int
    indicator_code: str
    indicator_name: str
    indicator_unit: str
    parent_name: str | None
    households: int | None
    adults: int | None


# One statement for everything progress shows beside the figures (unit, parent's name, indicator, denominators):
# each round trip to the database thread costs more than these joins. Unordered: the service sorts by name.
_TARGETS_SQL = (
    "SELECT t.month, t.value, t.share_of, t.share_percent, u.id, u.code, u.name, u.level, u.parent_id, u.depth, "
    "i.id, i.code, i.name, i.unit, p.name, pop.households, pop.adults "
    "FROM target t JOIN org_unit u ON u.id = t.org_unit_id JOIN indicator i ON i.id = t.indicator_id "
    "LEFT JOIN org_unit p ON p.id = u.parent_id LEFT JOIN unit_population pop ON pop.org_unit_id = u.id "
    "WHERE t.year = :year AND u.active = :true AND {under}"
)


def targets_exist_sql(dialect: str) -> str:
    """SQL true when targets_under would find a target of :year for the unit bound as :under or below it.

    A report asks this inside its figures' statement: most units have no target, and then progress costs no
    round trip of its own.
    """
    under = under_range(dialect, "u.path")
    return (
        "EXISTS (SELECT 1 FROM target t JOIN org_unit u ON u.id = t.org_unit_id JOIN indicator i ON i.id = "
        f"t.indicator_id WHERE t.year = :year AND u.active = :true AND {under})"
    )


async def targets_under(session: AsyncSession, unit: OrgUnit, year: int) -> list[TargetLine]:
    """Every target of `year` for `unit` and the units below it, with the unit and the indicator."""
    dialect = dialect_of(session)
    conn = await session.connection()
    params = {"year": year, "true": True}
    sql = _TARGETS_SQL.format(under=under_path(dialect, "u.path", unit.path))
    return [TargetLine(*row) for row in (await conn.execute(text(sql), params)).all()]


async def populations(session: AsyncSession, unit_ids: Sequence[int]) -> dict[int, UnitPopulation]:
    """The denominators of these units (those that have any), read as plain rows."""
    out: dict[int, UnitPopulation] = {}
    ids = list(unit_ids)
    conn = await session.connection()
    for i in range(0, len(ids), 500):
        chunk = ", ".join(str(int(x)) for x in ids[i : i + 500])
        rows = await conn.execute(
            text(
                "SELECT id, org_unit_id, households, adults, updated_at FROM unit_population "
                f"WHERE org_unit_id IN ({chunk})"
            )
        )
        for row_id, unit_id, households, adults, _updated in rows.all():
            out[unit_id] = UnitPopulation(id=row_id, org_unit_id=unit_id, households=households, adults=adults)
    return out


async def set_population(
    session: AsyncSession,
    unit: OrgUnit,
    *,
    households: int | None = None,
    adults: int | None = None,
    actor: Person | None,
    now: datetime,
    actor_label: str | None = None,
) -> UnitPopulation:
    """Set a unit's households and/or adults (None keeps the current figure), audited."""
    row = (await populations(session, [unit.id or 0])).get(unit.id or 0)
    before = row.model_dump() if row is not None else None
    if row is None:
        row = UnitPopulation(org_unit_id=unit.id or 0)
    if households is not None:
        row.households = households
    if adults is not None:
        row.adults = adults
    row.updated_at = now
    session.add(row)
    await session.flush()
    await record_audit(
        session, action="edit" if before else "create", entity="unit_population", entity_id=row.id,
        actor_person_id=actor.id if actor is not None else None, actor_label=actor_label, before=before, after=row,
    )  # fmt: skip
    return row


def _param(dialect: str, value: date) -> date | str:
    return value.isoformat() if dialect == "sqlite" else value


async def team_totals(
    session: AsyncSession, unit: OrgUnit, indicator_ids: Sequence[int], as_of: date
) -> list[tuple[int, str, int, int]]:
    """Per team under `unit` and indicator: (team id, team path, indicator id, live quantity from 1 January of
    as_of's year to as_of).

    Read from the monthly totals the triggers keep (January to as_of's month), minus the rollup's days after
    as_of in that month: a year costs a few thousand summary rows, not every item of the year.
    """
    if not indicator_ids:
        return []
    dialect = dialect_of(session)
    conn = await session.connection()
    ids = ", ".join(str(int(i)) for i in indicator_ids)
    month_end = date(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1).toordinal() - 1
    under = under_path(dialect, "t.path", unit.path)
    params: dict[str, Any] = {
        "lo": as_of.year * 100 + 1,
        "hi": as_of.year * 100 + as_of.month,
        "after": _param(dialect, date.fromordinal(as_of.toordinal() + 1)),
        "end": _param(dialect, date.fromordinal(month_end)),
    }
    totals: dict[tuple[int, int], int] = {}
    paths: dict[int, str] = {}
    rows = (
        await conn.execute(
            text(
                # A province: summed per team from the covering index first, then the sums joined to their paths.
                # A commune or a team: only its teams' rows, found through the unique key (team, indicator, month).
                "SELECT m.org_unit_id, t.path, m.indicator_id, m.q FROM (SELECT org_unit_id, indicator_id, "
                "SUM(quantity) AS q FROM activity_month_total "
                f"WHERE indicator_id IN ({ids}) AND month BETWEEN :lo AND :hi {_small_scope(unit)}"
                "GROUP BY org_unit_id, indicator_id) m "
                f"JOIN org_unit t ON t.id = m.org_unit_id WHERE {under}"
            ),
            params,
        )
    ).all()
    for team_id, path, indicator_id, quantity in rows:
        totals[(team_id, indicator_id)] = int(quantity or 0)
        paths[team_id] = path
    if as_of.toordinal() < month_end:
        later = (
            await conn.execute(
                text(
                    "SELECT q.org_unit_id, t.path, q.indicator_id, SUM(q.quantity) FROM rollup_team_day q "
                    "JOIN org_unit t ON t.id = q.org_unit_id "
                    f"WHERE q.day BETWEEN :after AND :end AND q.indicator_id IN ({ids}) AND {under} "
                    "GROUP BY q.org_unit_id, t.path, q.indicator_id"
                ),
                params,
            )
        ).all()
        for team_id, path, indicator_id, quantity in later:
            totals[(team_id, indicator_id)] = totals.get((team_id, indicator_id), 0) - int(quantity or 0)
            paths[team_id] = path
    return [(team, paths[team], indicator, quantity) for (team, indicator), quantity in totals.items()]


def _small_scope(unit: OrgUnit) -> str:
    """SQL narrowing the monthly totals to a commune's or a team's own teams (empty for larger units)."""
    if unit.level == "team":
        return f"AND org_unit_id = {int(unit.id or 0)} "
    if unit.level == "commune":
        return f"AND org_unit_id IN (SELECT id FROM org_unit WHERE parent_id = {int(unit.id or 0)}) "
    return ""


async def month_totals(
    session: AsyncSession, path: str, indicator_ids: Sequence[int], year: int
) -> dict[tuple[int, int], int]:
    """Live quantity per (indicator id, month 1-12) of `year` for every team under the unit at `path`."""
    if not indicator_ids:
        return {}
    dialect = dialect_of(session)
    conn = await session.connection()
    ids = ", ".join(str(int(i)) for i in indicator_ids)
    rows = (
        await conn.execute(
            text(
                "SELECT m.indicator_id, m.month, SUM(m.quantity) FROM activity_month_total m "
                "JOIN org_unit t ON t.id = m.org_unit_id "
                f"WHERE m.indicator_id IN ({ids}) AND m.month BETWEEN :lo AND :hi "
                f"AND {under_path(dialect, 't.path', path)} GROUP BY m.indicator_id, m.month"
            ),
            {"lo": year * 100 + 1, "hi": year * 100 + 12},
        )
    ).all()
    return {(indicator_id, month % 100): int(q or 0) for indicator_id, month, q in rows}


async def teams_of(session: AsyncSession, unit: OrgUnit) -> list[OrgUnit]:
    """The active teams directly under `unit` (a commune's teams), by name."""
    result = await session.exec(
        select(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.level == "team", OrgUnit.active == True)  # noqa: E712
    )
    return list(result.all())


async def unit_path(session: AsyncSession, unit_id: int) -> str:
    """The materialized path of one unit."""
    result = await session.exec(select(OrgUnit.path).where(OrgUnit.id == unit_id))
    return result.first() or "/"
