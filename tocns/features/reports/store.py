"""Report figures summed from the rollups: totals, per child unit, completeness, timeliness, silent teams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.roles import Level
from tocns.core.text import vi_sort_key as _vi_sort_key
from tocns.db.dialect import dialect_of
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person
from tocns.features.rollups.store import path_range, under_path, under_range
from tocns.features.targets.service import Progress
from tocns.features.targets.store import targets_exist_sql
from tocns.features.tasks.store import TaskProgress, fold_task_rows, task_rows_sql


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


def _first_id(dialect: str, column: str) -> str:
    """SQL of the first unit id in the path in `column` after the report unit's own path (its length bound as :plen)."""
    rest = f"substr({column}, :plen + 1)"
    return f"split_part({rest}, '/', 1)" if dialect == "postgresql" else f"substr({rest}, 1, instr({rest}, '/') - 1)"


def _team_child_sql(dialect: str, country: str | None) -> str:
    """CTE of the active teams under the unit bound as :under, each with the child unit of the report it belongs to.

    The child is the first id of the team's path after the unit's own path (the team itself for a team report):
    string work on the matching paths instead of joining every team to every child. The subtree filter is a range
    scan of the path index, so a commune's report reads its own teams, not the country's. The country's own path
    (given as `country`) is written into the SQL instead: one unit, one text anyway, and a plan made for a bound
    range (a few dozen teams expected) would read the whole country team by team.
    """
    under = under_range(dialect, "t.path") if country is None else under_path(dialect, "t.path", country)
    first = _first_id(dialect, "t.path")
    return (
        "team_child AS (SELECT t.id AS team_id, t.code, t.name, t.parent_id, "
        f"CASE WHEN t.id = :unit_id THEN t.id ELSE CAST({first} AS INTEGER) END AS child_id "
        f"FROM org_unit t WHERE t.level = 'team' AND t.active = :true AND {under})"
    )


# Per team: its records and timely records in the period, only for teams with at least one record. The country
# reads the period's rows of every team through the day-led index (one range), unjoined: it is only ever joined to
# team_child (a join here sorted both sides); any smaller unit looks each of its teams up in the team-led index (a
# join there made PostgreSQL scan the whole country's period, as it estimates).
_TEAM_RECORDS = {
    "all": (
        "team_records AS (SELECT c.org_unit_id AS team_id, SUM(c.records) AS records, "
        "SUM(c.timely_records) AS timely FROM rollup_team_day_records c "
        "WHERE c.day BETWEEN :start AND :end GROUP BY c.org_unit_id HAVING SUM(c.records) > 0)"
    ),
    "each": (
        "team_records AS (SELECT * FROM (SELECT tc.team_id, "
        "(SELECT SUM(c.records) FROM rollup_team_day_records c "
        "WHERE c.org_unit_id = tc.team_id AND c.day BETWEEN :start AND :end) AS records, "
        "(SELECT SUM(c.timely_records) FROM rollup_team_day_records c "
        "WHERE c.org_unit_id = tc.team_id AND c.day BETWEEN :start AND :end) AS timely "
        "FROM team_child tc) x WHERE x.records > 0)"
    ),
}

# Per child unit and indicator: the quantities of the period (cur) and the previous one (prev). Below the country,
# from the rows of the unit's teams (each looked up in the team-led index).
_TEAM_QUANTITIES = (
    "child_quantities AS (SELECT tc.child_id, r.indicator_id, "
    "SUM(CASE WHEN r.day BETWEEN :start AND :end THEN r.quantity ELSE 0 END) AS cur, "
    "SUM(CASE WHEN r.day BETWEEN :pstart AND :pend THEN r.quantity ELSE 0 END) AS prev "
    "FROM rollup_team_day r JOIN team_child tc ON tc.team_id = r.org_unit_id "
    "WHERE r.day BETWEEN :lo AND :hi GROUP BY tc.child_id, r.indicator_id)"
)


def _country_quantities_sql(dialect: str, country: str) -> str:
    """The country's child_quantities from the commune rollups (migration 0026): the two periods' rows of every
    commune (a few thousand communes, not tens of thousands of teams) summed per commune, then per child unit found
    from the commune's path. A team directly under the country (or a root team under "/") is its own child unit: its
    rows come from the team rollups (none in a real tree). A team's path is its parent's path and its own id, so the
    commune's path gives the child the team's gives."""
    cases = (
        "SUM(CASE WHEN {r}.day BETWEEN :start AND :end THEN {r}.quantity ELSE 0 END) AS cur, "
        "SUM(CASE WHEN {r}.day BETWEEN :pstart AND :pend THEN {r}.quantity ELSE 0 END) AS prev"
    )
    communes = (
        f"SELECT CAST({_first_id(dialect, 'p.path')} AS INTEGER) AS child_id, q.indicator_id, q.cur, q.prev "
        f"FROM (SELECT r.org_unit_id, r.indicator_id, {cases.format(r='r')} FROM rollup_commune_day r "
        "WHERE r.day BETWEEN :lo AND :hi GROUP BY r.org_unit_id, r.indicator_id) q "
        f"JOIN org_unit p ON p.id = q.org_unit_id WHERE {under_path(dialect, 'p.path', country)} "
        f"AND p.path <> '{country}'"
    )
    top_teams = (
        f"SELECT t.id AS child_id, r.indicator_id, {cases.format(r='r')} FROM org_unit t "
        "JOIN rollup_team_day r ON r.org_unit_id = t.id AND r.day BETWEEN :lo AND :hi "
        "WHERE t.level = 'team' AND t.active = :true AND (t.parent_id = :unit_id OR t.parent_id IS NULL) "
        f"AND {under_path(dialect, 't.path', country)} GROUP BY t.id, r.indicator_id"
    )
    return (
        "child_quantities AS (SELECT x.child_id, x.indicator_id, SUM(x.cur) AS cur, SUM(x.prev) AS prev "
        f"FROM ({communes} UNION ALL {top_teams}) x GROUP BY x.child_id, x.indicator_id)"
    )


# Per child unit: teams, reporting teams, records and timely records (the child of a team report is the team).
_CHILD_AGG = (
    "child_agg AS (SELECT tc.child_id, COUNT(*) AS teams, COUNT(r.team_id) AS reporting, "
    "COALESCE(SUM(r.records), 0) AS records, COALESCE(SUM(r.timely), 0) AS timely "
    "FROM team_child tc LEFT JOIN team_records r ON r.team_id = tc.team_id GROUP BY tc.child_id)"
)
# The whole summary in one statement (a commune's report is a few milliseconds: round trips and planning are most
# of it), one kind of row per part, every row (kind, id, code, name, text x3, child id, number x4, order x3; the
# first part's NULL child id is typed because PostgreSQL matches a UNION's types one branch after the other):
#   0: the unit's teams, reporting teams, records, timely records (every team, under an inactive child too);
#   1: each active child unit, with the same four figures;
#   2: each catalogue indicator (name, measure unit) with its sums per child in the period and the previous one
#      (no child: nothing logged), in catalogue order;
#   3: each team without a record in the period (parent name, parent code, a leader), one row per leader in order;
#      the leader's name looked up by key per silent team's leader (joined, PostgreSQL hashed the whole country's
#      people for the tenth of teams that are silent: a third of the country's report at 40,000 teams).
_SUMMARY_SQL = (
    "SELECT 0, NULL, NULL, NULL, NULL, NULL, NULL, CAST(NULL AS INTEGER), "
    "SUM(teams), SUM(reporting), SUM(records), SUM(timely), 0, '', 0 FROM child_agg "
    "UNION ALL SELECT 1, ch.id, ch.code, ch.name, NULL, NULL, NULL, NULL, COALESCE(a.teams, 0), "
    "COALESCE(a.reporting, 0), COALESCE(a.records, 0), COALESCE(a.timely, 0), 0, '', 0 "
    "FROM org_unit ch LEFT JOIN child_agg a ON a.child_id = ch.id WHERE ch.parent_id = :unit_id AND ch.active = :true "
    "UNION ALL SELECT 2, ind.id, ind.code, ind.name, ind.unit, NULL, NULL, q.child_id, q.cur, q.prev, NULL, NULL, "
    "ind.sort_order, ind.code, q.child_id FROM indicator ind "
    "LEFT JOIN child_quantities q ON q.indicator_id = ind.id "
    "UNION ALL SELECT 3, tc.team_id, tc.code, tc.name, (SELECT p.name FROM org_unit p WHERE p.id = tc.parent_id), "
    "(SELECT p.code FROM org_unit p WHERE p.id = tc.parent_id), "
    "(SELECT pe.display_name FROM person pe WHERE pe.id = m.person_id), NULL, NULL, NULL, NULL, "
    "NULL, tc.team_id, '', m.id FROM team_child tc "
    "LEFT JOIN membership m ON m.org_unit_id = tc.team_id AND m.role = 'team_leader' "
    "WHERE NOT EXISTS (SELECT 1 FROM team_records r WHERE r.team_id = tc.team_id) "
)
_SUMMARY_ORDER = "ORDER BY 1, 13, 14, 15"
# Two more kinds when unit_report asks, so a report is one round trip (three statements cost a commune's report
# more in round trips than in work): 4, each assignment of the open tasks due in the period (tasks/store.py's rows:
# task, title, deadline, done, team, person, assignment), ordered in Python; 5, one row when a target of the year
# lies at or under the unit (targets/store.py's test), so the progress is read only where there is one.
_TASKS_PART = (
    "UNION ALL SELECT 4, tk.task_id, NULL, tk.title, tk.team_name, tk.person_name, tk.due, NULL, tk.done, "
    "tk.assignee_id, NULL, NULL, 0, '', 0 FROM ({tasks}) tk "
)
_TARGETS_PART = (
    "UNION ALL SELECT 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL, NULL, 0, '', 0 WHERE {exists} "
)


class _Reader:
    """The report's statements on one connection, each with the team CTE of the unit and the period's dates."""

    def __init__(self, session: AsyncSession, unit: OrgUnit, dates: dict[str, date]) -> None:
        dialect = self.dialect = dialect_of(session)
        self.session = session
        self.params: dict[str, Any] = {"unit_id": unit.id, "true": True, "plen": len(unit.path)}
        self.params.update(path_range(unit.path))
        self.params.update({k: _date_param(dialect, v) for k, v in dates.items()})
        scope = "all" if unit.level == Level.NATIONAL or unit.path == "/" else "each"
        self.country = scope == "all"
        quantities = _country_quantities_sql(dialect, unit.path) if self.country else _TEAM_QUANTITIES
        self.ctes = (
            f"WITH {_team_child_sql(dialect, unit.path if self.country else None)}, {_TEAM_RECORDS[scope]}, "
            f"{quantities} "
        )

    async def rows(self, sql: str, *ctes: str) -> list[Any]:
        """The rows of one statement, prefixed with the team CTEs and any of its own."""
        conn = await self.session.connection()
        sql = self.ctes.rstrip() + "".join(f", {cte}" for cte in ctes) + " " + sql
        return list((await conn.execute(_statement(sql), self.params)).all())


# A report's SQL is one of a few texts per database now that the unit is bound: the parsed statement (text() finds
# its two dozen bind names with a regular expression each time) is kept too.
_statement = lru_cache(maxsize=64)(text)

# One thread folds the big reports, one at a time, for every report of the process: two folds at once (the
# summary's and the digests') took the GIL from each other and from the event loop in turns, and the loop waited for
# both (bench/RESULTS.md). A report of fewer rows (a commune's) folds on the loop in a few milliseconds, so it never
# waits behind a country's fold.
_FOLDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fold")
FOLD_ON_LOOP_ROWS = 500
_Folded = TypeVar("_Folded")


async def _folded(fold: Callable[..., _Folded], rows: list[Any], *args: Any) -> _Folded:
    """`fold(rows, *args)`: on the loop for a few rows, else in the process's one folding thread."""
    if len(rows) < FOLD_ON_LOOP_ROWS:
        return fold(rows, *args)
    return await asyncio.get_running_loop().run_in_executor(_FOLDER, fold, rows, *args)


@dataclass
class _Quantities:
    """The period's quantities summed in SQL per child unit and indicator: totals and per-child figures."""

    totals: list[IndicatorTotal]
    child_cur: dict[int, dict[str, int]] = field(default_factory=dict)
    child_prev: dict[int, int] = field(default_factory=dict)


def _quantities(rows: list[Any]) -> _Quantities:
    """Totals per indicator (every catalogue entry, in catalogue order) and each child's figures by code."""
    out = _Quantities(totals=[])
    by_id: dict[int, IndicatorTotal] = {}
    for indicator_id, code, name, unit, child_id, cur, prev in rows:
        total = by_id.get(indicator_id)
        if total is None:
            total = by_id[indicator_id] = IndicatorTotal(code=code, name=name, unit=unit, quantity=0, previous=0)
            out.totals.append(total)
        if child_id is None:
            continue
        cur, prev = int(cur or 0), int(prev or 0)
        total.quantity += cur
        total.previous += prev
        if cur:
            out.child_cur.setdefault(child_id, {})[code] = cur
        out.child_prev[child_id] = out.child_prev.get(child_id, 0) + prev
    return out


def _silent(rows: list[Any]) -> list[SilentTeam]:
    """Silent teams from (team, code, name, parent name, parent code, leader) rows, in Vietnamese order."""
    teams: dict[int, SilentTeam] = {}
    leaders: dict[int, list[str]] = {}
    for team_id, code, name, parent_name, parent_code, leader in rows:
        if team_id not in teams:
            teams[team_id] = SilentTeam(code=code, name=name, parent_name=parent_name or "",
                                        parent_code=parent_code or "")  # fmt: skip
            leaders[team_id] = []
        if leader is not None:
            leaders[team_id].append(leader)
    for team_id, team in teams.items():
        team.leader = ", ".join(leaders[team_id])
    # Vietnamese alphabetical order for every list of names people read ("Ấp" among the A's, "Thôn 2" < "Thôn 10").
    return sorted(teams.values(), key=lambda t: (vi_sort_key(t.parent_name), vi_sort_key(t.name), t.code))


def _children(rows: list[Any], quantities: _Quantities) -> list[ChildRow]:
    """One row per active child unit from (id, code, name, teams, reporting, records, timely), in Vietnamese order."""
    children = [
        ChildRow(
            code=code, name=name, teams=int(teams), reporting_teams=int(reporting), records=int(recs),
            quantity=sum(quantities.child_cur.get(child_id, {}).values()),
            previous_quantity=quantities.child_prev.get(child_id, 0),
            by_indicator=dict(quantities.child_cur.get(child_id, {})), timely_records=int(timely),
        )
        for child_id, code, name, teams, reporting, recs, timely in rows
    ]  # fmt: skip
    children.sort(key=lambda c: (vi_sort_key(c.name), c.code))
    return children


# Each team's quantities in the period as one text "indicator id:quantity,..." (one row per team, not per team and
# indicator: at 8,000 teams decoding 60,000 rows cost more than the database's work).
_TEAM_FIGURES = (
    "SELECT s.team_id, {concat}(s.indicator_id || ':' || s.n, ',') AS figures FROM (SELECT q.org_unit_id AS team_id, "
    "q.indicator_id, SUM(q.quantity) AS n FROM rollup_team_day q JOIN team_child tq ON tq.team_id = q.org_unit_id "
    "WHERE q.day BETWEEN :start AND :end GROUP BY q.org_unit_id, q.indicator_id HAVING SUM(q.quantity) <> 0) s "
    "GROUP BY s.team_id"
)
# Two more kinds when the report has team rows (the workbook's "Theo tổ" sheet), in the same statement: one round
# trip instead of three, which cost a commune's report more than their work. 6: every team (code, name, parent name,
# parent code, figures text, records, timely records, and the child unit's code as its sort text); each team's
# records are read by key, once per team (joined to team_records, PostgreSQL misjudging a commune's team count as 1
# re-ran it for every team: quadratic). 7: each team leader (team, name), in membership order.
_TEAM_ROWS_PART = (
    "UNION ALL SELECT 6, tc.team_id, tc.code, tc.name, p.name, p.code, f.figures, NULL, "
    "(SELECT SUM(c.records) FROM rollup_team_day_records c "
    "WHERE c.org_unit_id = tc.team_id AND c.day BETWEEN :start AND :end), "
    "(SELECT SUM(c.timely_records) FROM rollup_team_day_records c "
    "WHERE c.org_unit_id = tc.team_id AND c.day BETWEEN :start AND :end), NULL, NULL, 0, ch.code, 0 "
    "FROM team_child tc LEFT JOIN org_unit p ON p.id = tc.parent_id "
    "LEFT JOIN org_unit ch ON ch.id = tc.child_id AND ch.parent_id = :unit_id AND ch.active = :true "
    "LEFT JOIN ({figures}) f ON f.team_id = tc.team_id "
    "UNION ALL SELECT 7, m.org_unit_id, NULL, pe.display_name, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "0, '', m.id FROM membership m JOIN team_child tc ON tc.team_id = m.org_unit_id "
    "JOIN person pe ON pe.id = m.person_id WHERE m.role = 'team_leader' "
)


def _team_rows_sql(dialect: str) -> str:
    """The team rows' part of the report's statement on this database."""
    concat = "string_agg" if dialect == "postgresql" else "group_concat"
    return _TEAM_ROWS_PART.format(figures=_TEAM_FIGURES.format(concat=concat))


def _team_rows(teams: list[Any], leader_rows: list[Any], codes: dict[int, str]) -> list[TeamRow]:
    """Every team's figures (the workbook's "Theo tổ" sheet) from the statement's kinds 6 and 7, in Vietnamese order.

    `codes` is the catalogue (indicator id to code, in catalogue order): each team's figures follow it.
    """
    order = {indicator_id: i for i, indicator_id in enumerate(codes)}
    leaders: dict[int, list[str]] = {}
    for team_id, leader_name in leader_rows:
        leaders.setdefault(team_id, []).append(leader_name)
    rows = [
        TeamRow(
            code=code, name=name, parent_code=parent_code or "", parent_name=parent_name or "",
            leader=", ".join(leaders.get(team_id, [])), records=int(recs or 0), timely_records=int(timely or 0),
            by_indicator=_figures(figures, codes, order), child_code=child_code or "",
        )
        for team_id, code, name, parent_name, parent_code, figures, recs, timely, child_code in teams
    ]  # fmt: skip
    rows.sort(key=lambda t: (vi_sort_key(t.parent_name), vi_sort_key(t.name), t.code))
    return rows


def _figures(figures: str | None, codes: dict[int, str], order: dict[int, int]) -> dict[str, int]:
    """A team's "indicator id:quantity,..." text as {code: quantity} in catalogue order."""
    if not figures:
        return {}
    pairs = [(int(i), int(n)) for i, n in (pair.split(":") for pair in figures.split(","))]
    pairs.sort(key=lambda p: order[p[0]])
    return {codes[i]: n for i, n in pairs}


async def build_report(
    session: AsyncSession,
    unit: OrgUnit,
    dates: tuple[date, date, date, date],
    now: datetime,
    *,
    team_rows: bool = True,
    targets_year: int | None = None,
) -> tuple[Report, list[TaskProgress], bool]:
    """The report of `unit` for (start, end, previous start, previous end) from rollups, the period's open tasks,
    and, given `targets_year`, whether any target of that year lies at or under the unit.

    One statement: the sums per child unit and per indicator are done in SQL, the tasks and the targets check read
    alongside; `team_rows` adds every team's figures and leaders (the workbook's "Theo tổ" sheet, two more kinds of
    row in the same statement), which a text, a chart or a page does not need.
    """
    start, end, previous_start, previous_end = dates
    lo, hi = min(start, previous_start), max(end, previous_end)
    named = {"start": start, "end": end, "pstart": previous_start, "pend": previous_end, "lo": lo, "hi": hi}
    reader = _Reader(session, unit, named)
    sql = _SUMMARY_SQL + _TASKS_PART.format(tasks=task_rows_sql(reader.dialect, unit))
    if targets_year is not None:
        reader.params["year"] = targets_year
        sql += _TARGETS_PART.format(exists=targets_exist_sql(reader.dialect))
    statements = [sql]
    if team_rows and reader.country:
        # The country's teams in a statement of their own: joined to the summary, the statement's estimated cost
        # made PostgreSQL compile it (JIT), which cost more than the round trip saved.
        statements.append(_team_rows_sql(reader.dialect).removeprefix("UNION ALL "))
    elif team_rows:
        statements[0] += _team_rows_sql(reader.dialect)
    rows = [row for statement in statements for row in await reader.rows(statement + _SUMMARY_ORDER, _CHILD_AGG)]
    if team_rows:
        # A province's thousands of team rows are folded in a thread: the event loop keeps answering meanwhile.
        return await _folded(_fold_report, rows, (unit.code, unit.name, unit.level), dates, now)
    return _fold_report(rows, (unit.code, unit.name, unit.level), dates, now)


def _fold_report(
    rows: list[Any], unit: tuple[str, str, str], dates: tuple[date, date, date, date], now: datetime
) -> tuple[Report, list[TaskProgress], bool]:
    """build_report's result from its statements' rows for the unit (code, name, level) (pure: no session)."""
    unit_code, unit_name, unit_level = unit
    start, end, previous_start, previous_end = dates
    parts: list[list[Any]] = [[] for _ in range(8)]
    for row in rows:
        parts[row[0]].append(row)
    (unit_row,), child_rows = parts[0], [(r[1], r[2], r[3], *r[8:12]) for r in parts[1]]
    quantities = _quantities([(*r[1:5], r[7], r[8], r[9]) for r in parts[2]])
    silent = _silent([r[1:7] for r in parts[3]])
    report = Report(
        unit_code=unit_code, unit_name=unit_name, unit_level=unit_level, start=start, end=end,
        previous_start=previous_start, previous_end=previous_end, generated_at=now, totals=quantities.totals,
        children=[] if unit_level == Level.TEAM else _children(child_rows, quantities),
        teams=int(unit_row[8] or 0), reporting_teams=int(unit_row[9] or 0), records=int(unit_row[10] or 0),
        timely_records=int(unit_row[11] or 0),
        silent_teams=silent,
        team_rows=_team_rows([(*r[1:7], r[8], r[9], r[13]) for r in parts[6]], [(r[1], r[3]) for r in parts[7]],
                             {r[1]: r[2] for r in parts[2]}),
    )  # fmt: skip
    tasks = fold_task_rows((r[1], r[3], r[6], r[8], r[4], r[5], r[9]) for r in parts[4])
    return report, tasks, bool(parts[5])


# A parent's statement that also answers for each child (communes under their province, for the digests): each
# child's tasks keyed by the task's commune in the child-id column, and one row per child with a target of :year at
# or below it (`targets_exist_sql`'s test, per child).
_CHILD_TASKS_PART = (
    "UNION ALL SELECT 4, tk.task_id, NULL, tk.title, tk.team_name, tk.person_name, tk.due, tk.commune_id, tk.done, "
    "tk.assignee_id, NULL, NULL, 0, '', 0 FROM ({tasks}) tk "
)
_CHILD_TARGETS_PART = (
    "UNION ALL SELECT 5, ch.id, NULL, NULL, NULL, NULL, NULL, NULL, 1, NULL, NULL, NULL, 0, '', 0 FROM org_unit ch "
    "WHERE ch.parent_id = :unit_id AND ch.active = :true AND EXISTS (SELECT 1 FROM target t "
    "JOIN org_unit u ON u.id = t.org_unit_id JOIN indicator i ON i.id = t.indicator_id "
    "WHERE t.year = :year AND u.active = :true AND substr(u.path, 1, length(ch.path)) = ch.path) "
)


@dataclass
class ChildReport:
    """A child unit's report read with its parent's (see build_child_reports), its tasks, and whether a target of
    the year lies at or under it."""

    report: Report
    tasks: list[TaskProgress]
    has_targets: bool


def _child_quantities(rows: list[Any]) -> tuple[list[tuple[str, str, str]], dict[int, dict[str, tuple[int, int]]]]:
    """The catalogue (code, name, measure unit) in order and each child's (current, previous) by indicator code."""
    catalogue: dict[int, tuple[str, str, str]] = {}
    by_child: dict[int, dict[str, tuple[int, int]]] = {}
    for indicator_id, code, name, unit, child_id, cur, prev in rows:
        catalogue.setdefault(indicator_id, (code, name, unit))
        if child_id is not None:
            by_child.setdefault(child_id, {})[code] = (int(cur or 0), int(prev or 0))
    return list(catalogue.values()), by_child


def _team_children(teams: list[TeamRow]) -> tuple[dict[str, list[ChildRow]], set[str]]:
    """Each child's teams as its own report's child rows (by the child's code), and the children with a team not
    directly under them (a level between: their report is read alone)."""
    by_child: dict[str, list[ChildRow]] = {}
    nested: set[str] = set()
    for team in teams:
        if team.parent_code != team.child_code:
            nested.add(team.child_code)
        by_child.setdefault(team.child_code, []).append(
            ChildRow(
                code=team.code, name=team.name, teams=1, reporting_teams=1 if team.records else 0,
                records=team.records, quantity=sum(team.by_indicator.values()), previous_quantity=0,
                by_indicator=dict(team.by_indicator), timely_records=team.timely_records if team.records else 0,
            )
        )  # fmt: skip
    for rows in by_child.values():
        rows.sort(key=lambda c: (vi_sort_key(c.name), c.code))
    return by_child, nested


async def build_child_reports(
    session: AsyncSession,
    parent: OrgUnit,
    children: list[OrgUnit],
    dates: tuple[date, date, date, date],
    now: datetime,
    targets_year: int,
) -> dict[int, ChildReport]:
    """The reports of `children` (active units directly under `parent`: a province's communes) as build_report
    would give each with `team_rows=False`, from the parent's one statement, not one per child.

    The parent's figures statement already sums per child (totals per indicator, teams, records, silent teams), with
    each child's tasks and targets check alongside; its team rows give each child's teams. A child whose teams are
    not all directly under it is left out (the caller reads it alone); the team rows carry no previous-period
    quantity (`ChildRow.previous_quantity` is 0 there: no text shows it).
    """
    start, end, previous_start, previous_end = dates
    lo, hi = min(start, previous_start), max(end, previous_end)
    named = {"start": start, "end": end, "pstart": previous_start, "pend": previous_end, "lo": lo, "hi": hi}
    reader = _Reader(session, parent, named)
    reader.params["year"] = targets_year
    tasks_sql = task_rows_sql(reader.dialect, parent, with_commune=True)
    sql = _SUMMARY_SQL + _CHILD_TASKS_PART.format(tasks=tasks_sql) + _CHILD_TARGETS_PART
    # The children's teams ride in the same statement (kinds 6 and 7, as build_report's team rows).
    rows = await reader.rows(sql + _team_rows_sql(reader.dialect) + _SUMMARY_ORDER, _CHILD_AGG)
    # The folding (a province's thousands of teams) runs in a thread: the event loop keeps answering meanwhile.
    named_children = [(c.id or 0, c.code, c.name, c.level) for c in children]
    return await _folded(_fold_children, rows, named_children, dates, now)


@dataclass
class _ChildParts:
    """A parent's statement rows sorted out per child: figures, quantities, silent teams, tasks, targets, teams."""

    figures: dict[int, Any]
    catalogue: list[tuple[str, str, str]]
    quantities: dict[int, dict[str, tuple[int, int]]]
    silent: dict[str, list[Any]]
    tasks: dict[int, list[Any]]
    with_targets: set[int]
    team_children: dict[str, list[ChildRow]]
    nested: set[str]


def _child_parts(rows: list[Any]) -> _ChildParts:
    """The parent's rows (by kind, see _SUMMARY_SQL) keyed by child."""
    parts: list[list[Any]] = [[] for _ in range(8)]
    for row in rows:
        parts[row[0]].append(row)
    catalogue, quantities = _child_quantities([(*r[1:5], r[7], r[8], r[9]) for r in parts[2]])
    silent: dict[str, list[Any]] = {}
    for r in parts[3]:
        silent.setdefault(r[5] or "", []).append(r[1:7])
    tasks: dict[int, list[Any]] = {}
    for r in parts[4]:
        tasks.setdefault(r[7], []).append((r[1], r[3], r[6], r[8], r[4], r[5], r[9]))
    teams = _team_rows([(*r[1:7], r[8], r[9], r[13]) for r in parts[6]], [(r[1], r[3]) for r in parts[7]],
                       {r[1]: r[2] for r in parts[2]})  # fmt: skip
    team_children, nested = _team_children(teams)
    figures = {r[1]: r[8:12] for r in parts[1]}
    return _ChildParts(figures, catalogue, quantities, silent, tasks, {r[1] for r in parts[5]}, team_children, nested)


def _child_report(
    parts: _ChildParts, child: tuple[int, str, str, str], dates: tuple[date, date, date, date], now: datetime
) -> ChildReport:
    """One child's report, tasks and targets flag from its parent's sorted rows."""
    child_id, code, name, level = child
    start, end, previous_start, previous_end = dates
    team_count, reporting, records, timely = parts.figures[child_id]
    own = parts.quantities.get(child_id, {})
    totals = [
        IndicatorTotal(code=ind, name=ind_name, unit=unit, quantity=own.get(ind, (0, 0))[0],
                       previous=own.get(ind, (0, 0))[1])
        for ind, ind_name, unit in parts.catalogue
    ]  # fmt: skip
    report = Report(
        unit_code=code, unit_name=name, unit_level=level, start=start, end=end,
        previous_start=previous_start, previous_end=previous_end, generated_at=now, totals=totals,
        children=[] if level == Level.TEAM else parts.team_children.get(code, []),
        teams=int(team_count or 0), reporting_teams=int(reporting or 0), records=int(records or 0),
        timely_records=int(timely or 0), silent_teams=_silent(parts.silent.get(code, [])),
    )  # fmt: skip
    return ChildReport(report, fold_task_rows(parts.tasks.get(child_id, [])), child_id in parts.with_targets)


def _fold_children(
    rows: list[Any],
    children: list[tuple[int, str, str, str]],
    dates: tuple[date, date, date, date],
    now: datetime,
) -> dict[int, ChildReport]:
    """build_child_reports' reports from the parent's rows (pure: no session), for (id, code, name, level) children;
    a child with a team not directly under it is left out (the caller reads it alone)."""
    parts = _child_parts(rows)
    return {
        child[0]: _child_report(parts, child, dates, now)
        for child in children
        if child[0] in parts.figures and child[1] not in parts.nested
    }


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
