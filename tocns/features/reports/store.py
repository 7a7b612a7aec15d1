"""Report figures summed from the rollups: totals, per child unit, completeness, timeliness, silent teams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.roles import Level
from tocns.core.text import vi_sort_key as _vi_sort_key
from tocns.db.dialect import dialect_of
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person
from tocns.features.rollups.store import under_path
from tocns.features.targets.service import Progress


@dataclass
class IndicatorTotal:
    """One indicator's total in the period and in the previous one."""

    code: str
    name: str
    unit: str
    quantity: int
    previous: int

    @property
    def change(self) -> int:
        """Difference against the previous period."""
        return self.quantity - self.previous


@dataclass
class ChildRow:
    """The figures of one child unit (a commune under a province, a team under a commune)."""

    code: str
    name: str
    teams: int
    reporting_teams: int
    records: int
    # Sum over indicators of different units: kept for API clients; people read `by_indicator` and `records`.
    quantity: int
    previous_quantity: int
    by_indicator: dict[str, int] = field(default_factory=dict)
    timely_records: int = 0

    @property
    def completeness(self) -> float:
        """Share of the child's teams with at least one record in the period."""
        return self.reporting_teams / self.teams if self.teams else 0.0

    @property
    def timeliness(self) -> float | None:
        """Share of the child's records logged on time; None when it has no record to count."""
        return self.timely_records / self.records if self.records else None


@dataclass
class TeamRow:
    """One team's figures in the period, with the unit it belongs to and its leaders (for the workbook)."""

    code: str
    name: str
    parent_code: str
    parent_name: str
    leader: str
    records: int
    timely_records: int
    by_indicator: dict[str, int] = field(default_factory=dict)
    child_code: str = ""


@dataclass
class TaskFigures:
    """Task figures of the period (filled once tasks exist): counted in tasks, not in assignments."""

    due: int
    done: int
    overdue: int
    # Per task due in the period: (id, title, assignments done, assignments in all).
    progress: list[tuple[int, str, int, int]] = field(default_factory=list)
    # Per overdue task: (id, title, deadline as dd/mm/yyyy, teams or people not finished); JSON-ready.
    overdue_tasks: list[tuple[int, str, str, list[str]]] = field(default_factory=list)


@dataclass
class SilentTeam:
    """A team with no record in the period."""

    code: str
    name: str
    parent_name: str
    parent_code: str = ""
    leader: str = ""


@dataclass
class Report:
    """Everything a report shows for one unit and one period."""

    unit_code: str
    unit_name: str
    unit_level: str
    start: date
    end: date
    previous_start: date
    previous_end: date
    generated_at: datetime
    totals: list[IndicatorTotal]
    children: list[ChildRow]
    teams: int
    reporting_teams: int
    records: int
    timely_records: int
    silent_teams: list[SilentTeam]
    tasks: TaskFigures | None = None
    team_rows: list[TeamRow] = field(default_factory=list)
    # Progress towards the year's targets as of the period's end (or today); None when no target is set below.
    progress: Progress | None = None

    @property
    def completeness(self) -> float:
        """Share of teams with at least one record in the period."""
        return self.reporting_teams / self.teams if self.teams else 0.0

    @property
    def timeliness(self) -> float:
        """Share of the period's records logged within rollups' TIMELY_DAYS of their activity date."""
        return self.timely_records / self.records if self.records else 0.0

    @property
    def total_quantity(self) -> int:
        """Sum of every indicator's quantity (mixed units: for API compatibility, never shown to people)."""
        return sum(t.quantity for t in self.totals)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (dates as ISO strings)."""
        data = asdict(self)
        for key in ("start", "end", "previous_start", "previous_end", "generated_at"):
            data[key] = data[key].isoformat()
        data["completeness"] = round(self.completeness, 4)
        data["timeliness"] = round(self.timeliness, 4)
        data["total_quantity"] = self.total_quantity
        for row, child in zip(data["children"], self.children, strict=True):
            row["completeness"] = round(child.completeness, 4)
            row["timeliness"] = None if child.timeliness is None else round(child.timeliness, 4)
        for row, total in zip(data["totals"], self.totals, strict=True):
            row["change"] = total.change
        if self.progress is not None:
            data["progress"] = self.progress.to_dict()
        return data


# A province's thousand teams share a few dozen names ("Thôn 1", "Tổ 3") and each parent name is shared by its
# teams: the collation key (0.1-0.4 ms of Python each) is computed once per distinct name, not twice per team.
vi_sort_key = lru_cache(maxsize=65536)(_vi_sort_key)


def _date_param(dialect: str, value: date) -> date | str:
    # SQLite keeps dates as ISO text; passing text avoids sqlite3's deprecated date channel.
    return value.isoformat() if dialect == "sqlite" else value


def _team_child_sql(dialect: str, path: str) -> str:
    """CTE of the active teams under the unit at `path`, each with the child unit of the report it belongs to.

    The child is the first id of the team's path after the unit's own path (the team itself for a team report):
    string work on the matching paths instead of joining every team to every child. The prefix filter is a range
    scan of the path index, so a commune's report reads its own teams, not the country's.
    """
    rest = "substr(t.path, :plen + 1)"
    first = f"split_part({rest}, '/', 1)" if dialect == "postgresql" else f"substr({rest}, 1, instr({rest}, '/') - 1)"
    return (
        "team_child AS (SELECT t.id AS team_id, "
        f"CASE WHEN t.id = :unit_id THEN t.id ELSE CAST({first} AS INTEGER) END AS child_id "
        f"FROM org_unit t WHERE t.level = 'team' AND t.active = :true AND {under_path(dialect, 't.path', path)})"
    )


@dataclass
class _Fetched:
    """The rows build_report reads: a few per team or per child, never one per record."""

    children: list[Any]
    indicators: list[Any]
    items: list[Any]
    records: list[Any]
    teams: list[Any]
    leaders: dict[int, list[str]]


async def _fetch(session: AsyncSession, unit: OrgUnit, dates: dict[str, date]) -> _Fetched:
    """Read the report's rows from the rollups (quantities and records per team) and the org tables."""
    dialect = dialect_of(session)
    conn = await session.connection()
    params: dict[str, Any] = {"unit_id": unit.id, "true": True}
    params.update({"plen": len(unit.path), **{k: _date_param(dialect, v) for k, v in dates.items()}})
    with_teams = f"WITH {_team_child_sql(dialect, unit.path)} "

    async def rows(sql: str) -> list[Any]:
        return list((await conn.execute(text(sql), params)).all())

    children = await rows(
        "SELECT id, code, name FROM org_unit WHERE parent_id = :unit_id AND active = :true ORDER BY code"
    )
    indicators = await rows("SELECT id, code, name, unit FROM indicator ORDER BY sort_order, code")
    items = await rows(
        with_teams + "SELECT q.org_unit_id, tc.child_id, q.indicator_id, "
        "SUM(CASE WHEN q.day BETWEEN :start AND :end THEN q.quantity ELSE 0 END), "
        "SUM(CASE WHEN q.day BETWEEN :pstart AND :pend THEN q.quantity ELSE 0 END) "
        "FROM rollup_team_day q JOIN team_child tc ON tc.team_id = q.org_unit_id "
        "WHERE q.day BETWEEN :lo AND :hi GROUP BY q.org_unit_id, tc.child_id, q.indicator_id"
    )
    # Per team: its records and timely records in the period (at most one row per team).
    records = await rows(
        with_teams + "SELECT c.org_unit_id, SUM(c.records), SUM(c.timely_records) "
        "FROM rollup_team_day_records c JOIN team_child tc ON tc.team_id = c.org_unit_id "
        "WHERE c.day BETWEEN :start AND :end GROUP BY c.org_unit_id HAVING SUM(c.records) > 0"
    )
    teams = await rows(
        with_teams + "SELECT tc.team_id, tc.child_id, t.code, t.name, p.name, p.code FROM team_child tc "
        "JOIN org_unit t ON t.id = tc.team_id LEFT JOIN org_unit p ON p.id = t.parent_id"
    )
    leaders: dict[int, list[str]] = {}
    for team_id, leader_name in await rows(
        with_teams + "SELECT m.org_unit_id, pe.display_name FROM membership m "
        "JOIN team_child tc ON tc.team_id = m.org_unit_id JOIN person pe ON pe.id = m.person_id "
        "WHERE m.role = 'team_leader' ORDER BY m.id"
    ):
        leaders.setdefault(team_id, []).append(leader_name)
    return _Fetched(children, indicators, items, records, teams, leaders)


@dataclass
class _Quantities:
    """The period's quantities summed per indicator, per child and per team (by indicator code)."""

    totals: list[IndicatorTotal]
    child_cur: dict[int, dict[str, int]] = field(default_factory=dict)
    child_prev: dict[int, int] = field(default_factory=dict)
    team_cur: dict[int, dict[str, int]] = field(default_factory=dict)


def _quantities(fetched: _Fetched) -> _Quantities:
    """Roll the (team x indicator) rows up into totals, children and teams."""
    codes = {row[0]: row[1] for row in fetched.indicators}
    cur_by: dict[int, int] = {}
    prev_by: dict[int, int] = {}
    out = _Quantities(totals=[])
    for team_id, child_id, indicator_id, cur, prev in fetched.items:
        cur, prev = int(cur or 0), int(prev or 0)
        code = codes[indicator_id]
        if cur:
            out.team_cur.setdefault(team_id, {})[code] = cur
            by_code = out.child_cur.setdefault(child_id, {})
            by_code[code] = by_code.get(code, 0) + cur
        cur_by[indicator_id] = cur_by.get(indicator_id, 0) + cur
        prev_by[indicator_id] = prev_by.get(indicator_id, 0) + prev
        out.child_prev[child_id] = out.child_prev.get(child_id, 0) + prev
    out.totals = [
        IndicatorTotal(code=r[1], name=r[2], unit=r[3], quantity=cur_by.get(r[0], 0), previous=prev_by.get(r[0], 0))
        for r in fetched.indicators
    ]
    return out


@dataclass
class _Teams:
    """Per team and per child: team rows, silent teams, team counts and (records, reporting, timely)."""

    rows: list[TeamRow] = field(default_factory=list)
    silent: list[SilentTeam] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    records: dict[int, tuple[int, int, int]] = field(default_factory=dict)


def _teams(fetched: _Fetched, quantities: _Quantities) -> _Teams:
    """Teams joined with their record counts: children's completeness, the team sheet, silent teams."""
    per_team = {row[0]: (int(row[1]), int(row[2] or 0)) for row in fetched.records}
    child_codes = {row[0]: row[1] for row in fetched.children}
    out = _Teams()
    for team_id, child_id, code, name, parent_name, parent_code in fetched.teams:
        out.counts[child_id] = out.counts.get(child_id, 0) + 1
        leader = ", ".join(fetched.leaders.get(team_id, []))
        recs, timely = per_team.get(team_id, (0, 0))
        out.rows.append(
            TeamRow(
                code=code, name=name, parent_code=parent_code or "", parent_name=parent_name or "", leader=leader,
                records=recs, timely_records=timely, by_indicator=quantities.team_cur.get(team_id, {}),
                child_code=child_codes.get(child_id, ""),
            )
        )  # fmt: skip
        if team_id in per_team:
            so_far = out.records.get(child_id, (0, 0, 0))
            out.records[child_id] = (so_far[0] + recs, so_far[1] + 1, so_far[2] + timely)
        else:
            out.silent.append(
                SilentTeam(code=code, name=name, parent_name=parent_name or "", parent_code=parent_code or "",
                           leader=leader)
            )  # fmt: skip
    # Vietnamese alphabetical order for every list of names people read ("Ấp" among the A's, "Thôn 2" < "Thôn 10").
    out.silent.sort(key=lambda t: (vi_sort_key(t.parent_name), vi_sort_key(t.name), t.code))
    out.rows.sort(key=lambda t: (vi_sort_key(t.parent_name), vi_sort_key(t.name), t.code))
    return out


def _children(fetched: _Fetched, quantities: _Quantities, teams: _Teams) -> list[ChildRow]:
    """One row per child unit, in Vietnamese alphabetical order."""
    children: list[ChildRow] = []
    for child_id, code, name in fetched.children:
        by_indicator = quantities.child_cur.get(child_id, {})
        recs, reporting, timely = teams.records.get(child_id, (0, 0, 0))
        children.append(
            ChildRow(
                code=code, name=name, teams=teams.counts.get(child_id, 0), reporting_teams=reporting, records=recs,
                quantity=sum(by_indicator.values()), previous_quantity=quantities.child_prev.get(child_id, 0),
                by_indicator=dict(by_indicator), timely_records=timely,
            )
        )  # fmt: skip
    children.sort(key=lambda c: (vi_sort_key(c.name), c.code))
    return children


async def build_report(
    session: AsyncSession,
    unit: OrgUnit,
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    now: datetime,
) -> Report:
    """Compute the report of `unit` for [start, end] compared with [previous_start, previous_end], from rollups."""
    lo, hi = min(start, previous_start), max(end, previous_end)
    dates = {"start": start, "end": end, "pstart": previous_start, "pend": previous_end, "lo": lo, "hi": hi}
    fetched = await _fetch(session, unit, dates)
    quantities = _quantities(fetched)
    teams = _teams(fetched, quantities)
    records = teams.records.values()
    return Report(
        unit_code=unit.code, unit_name=unit.name, unit_level=unit.level, start=start, end=end,
        previous_start=previous_start, previous_end=previous_end, generated_at=now, totals=quantities.totals,
        children=[] if unit.level == Level.TEAM else _children(fetched, quantities, teams),
        teams=sum(teams.counts.values()), reporting_teams=sum(v[1] for v in records),
        records=sum(v[0] for v in records), timely_records=sum(v[2] for v in records),
        silent_teams=teams.silent, team_rows=teams.rows,
    )  # fmt: skip


def raw_sql(dialect: str, path: str) -> str:
    """The raw-records query of the units under `path` on this database (see under_path)."""
    return RAW_SQL.replace(":under", under_path(dialect, "t.path", path))


RAW_SQL = (
    "SELECT r.id, r.activity_date, c.name, t.code, t.name, p.display_name, ind.name, i.quantity, ind.unit, "
    "r.note, r.photo, r.created_at "
    "FROM activity_record r JOIN org_unit t ON t.id = r.org_unit_id "
    "LEFT JOIN org_unit c ON c.id = t.parent_id "
    "JOIN person p ON p.id = r.person_id "
    "JOIN activity_item i ON i.record_id = r.id JOIN indicator ind ON ind.id = i.indicator_id "
    "WHERE r.deleted_at IS NULL AND r.activity_date BETWEEN :start AND :end "
    "AND :under "
    "ORDER BY r.activity_date, t.code, r.id, ind.sort_order"
)
"""One row per live item: id, activity date, parent unit, team code, team, person, indicator, quantity, unit of
measure, note, photo, created at. No LIMIT: an export holds every row (streamed, see stream_raw_records)."""


def _raw_params(session: AsyncSession, start: date, end: date) -> dict[str, Any]:
    dialect = dialect_of(session)
    return {"start": _date_param(dialect, start), "end": _date_param(dialect, end)}


async def stream_raw_records(
    session: AsyncSession, unit: OrgUnit, start: date, end: date, batch: int = 5000
) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The period's live items in batches, read through a server-side cursor so memory stays flat."""
    conn = await session.connection()
    result = await conn.stream(text(raw_sql(dialect_of(session), unit.path)), _raw_params(session, start, end))
    async for partition in result.partitions(batch):
        yield [tuple(row) for row in partition]


async def raw_records(session: AsyncSession, unit: OrgUnit, start: date, end: date) -> list[tuple[Any, ...]]:
    """The period's live items as a list (small periods and tests; exports stream with stream_raw_records)."""
    conn = await session.connection()
    result = await conn.execute(text(raw_sql(dialect_of(session), unit.path)), _raw_params(session, start, end))
    return [tuple(row) for row in result.all()]


def _department() -> Any:
    """SQL true for a department's unit: a province, the national unit, or a root (a tree with no province level)."""
    return col(OrgUnit.level).in_([Level.PROVINCE, Level.NATIONAL]) | col(OrgUnit.parent_id).is_(None)


async def department_units(session: AsyncSession) -> list[OrgUnit]:
    """Every active department unit (provinces and the national unit), by code."""
    query = select(OrgUnit).where(_department(), OrgUnit.active == True).order_by(col(OrgUnit.code))  # noqa: E712
    return list((await session.exec(query)).all())


async def root_chats(session: AsyncSession) -> list[tuple[OrgUnit, str, str]]:
    """Active chats of the departments: bound to a province, to the national unit, or to any root unit (a tree with
    no province level): (unit, platform, chat_id). A province keeps its weekly summary once a national unit is
    created above it."""
    result = await session.exec(
        select(OrgUnit, ChatBinding.platform, ChatBinding.chat_id)
        .join(ChatBinding, col(ChatBinding.org_unit_id) == col(OrgUnit.id))
        .where(_department(), ChatBinding.active == True)  # noqa: E712
        .order_by(col(OrgUnit.code), col(ChatBinding.chat_id))
    )
    return [(unit, platform, chat_id) for unit, platform, chat_id in result.all()]


async def digest_recipients(session: AsyncSession) -> list[tuple[OrgUnit, str, str, str]]:
    """Where each commune's digest goes: its leaders' private chats, else the commune's groups.

    The last item names the recipient for the once-per-period key: "person:<id>" for a leader (whatever their
    private chat becomes), "chat:<platform>:<id>" for a group.
    """
    leaders = await session.exec(
        select(OrgUnit, Person.platform, Person.private_chat_id, Person.id)
        .join(Membership, col(Membership.org_unit_id) == col(OrgUnit.id))
        .join(Person, col(Person.id) == col(Membership.person_id))
        .where(
            OrgUnit.level == Level.COMMUNE,
            OrgUnit.active == True,  # noqa: E712
            Membership.role == "commune_leader",
            col(Person.private_chat_id).is_not(None),
        )
        .order_by(col(OrgUnit.code), col(Person.id))
    )
    out: list[tuple[OrgUnit, str, str, str]] = [(u, p, c or "", f"person:{i}") for u, p, c, i in leaders.all()]
    privately = {u.id for u, *_rest in out}
    groups = await session.exec(
        select(OrgUnit, ChatBinding.platform, ChatBinding.chat_id)
        .join(ChatBinding, col(ChatBinding.org_unit_id) == col(OrgUnit.id))
        .where(OrgUnit.level == Level.COMMUNE, OrgUnit.active == True, ChatBinding.active == True)  # noqa: E712
        .order_by(col(OrgUnit.code), col(ChatBinding.chat_id))
    )
    out += [(u, p, c, f"chat:{p}:{c}") for u, p, c in groups.all() if u.id not in privately]
    return out
