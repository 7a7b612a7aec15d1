"""Rollup SQL: the hierarchy filter, rebuilding the rollups from raw rows, and comparing the two."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.bulk import drop_and_rebuild, secondary_sql
from tocns.db.dialect import dialect_of

TIMELY_DAYS = 2
"""A record is timely when logged at most this many days after its activity date (Vietnam's local days)."""

# The triggers of migration 0019 count a record timely with the same expressions (r = the record's alias).
_TIMELY = {
    "postgresql": f"((r.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh') < (r.activity_date + {TIMELY_DAYS + 1}))",
    "sqlite": f"(julianday(r.created_at) + 7.0 / 24 < julianday(r.activity_date) + {TIMELY_DAYS + 1})",
}
_RAW_QUANTITIES = (
    "SELECT r.org_unit_id, r.activity_date, i.indicator_id, SUM(i.quantity) FROM activity_record r "
    "JOIN activity_item i ON i.record_id = r.id WHERE r.deleted_at IS NULL "
    "GROUP BY r.org_unit_id, r.activity_date, i.indicator_id HAVING SUM(i.quantity) <> 0"
)
_RAW_RECORDS = (
    "SELECT r.org_unit_id, r.activity_date, COUNT(*), SUM(CASE WHEN {timely} THEN 1 ELSE 0 END) "
    "FROM activity_record r WHERE r.deleted_at IS NULL GROUP BY r.org_unit_id, r.activity_date"
)

# The commune rollups (migration 0026): each active team's figures added to its parent's, from raw rows (check) or
# from the team rollups just rebuilt (rebuild).
_COUNTED = "t.level = 'team' AND t.active = {true} AND t.parent_id IS NOT NULL"
_RAW_COMMUNE_QUANTITIES = (
    "SELECT t.parent_id, r.activity_date, i.indicator_id, SUM(i.quantity) FROM activity_record r "
    "JOIN activity_item i ON i.record_id = r.id JOIN org_unit t ON t.id = r.org_unit_id "
    f"WHERE r.deleted_at IS NULL AND {_COUNTED} "
    "GROUP BY t.parent_id, r.activity_date, i.indicator_id HAVING SUM(i.quantity) <> 0"
)
_RAW_COMMUNE_RECORDS = (
    "SELECT t.parent_id, r.activity_date, COUNT(*), SUM(CASE WHEN {timely} THEN 1 ELSE 0 END) "
    f"FROM activity_record r JOIN org_unit t ON t.id = r.org_unit_id WHERE r.deleted_at IS NULL AND {_COUNTED} "
    "GROUP BY t.parent_id, r.activity_date"
)
_COMMUNE_FROM_TEAMS = (
    "INSERT INTO rollup_commune_day (org_unit_id, day, indicator_id, quantity) "
    "SELECT t.parent_id, q.day, q.indicator_id, SUM(q.quantity) FROM rollup_team_day q "
    f"JOIN org_unit t ON t.id = q.org_unit_id WHERE {_COUNTED} "
    "GROUP BY t.parent_id, q.day, q.indicator_id HAVING SUM(q.quantity) <> 0",
    "INSERT INTO rollup_commune_day_records (org_unit_id, day, records, timely_records) "
    "SELECT t.parent_id, c.day, SUM(c.records), SUM(c.timely_records) FROM rollup_team_day_records c "
    f"JOIN org_unit t ON t.id = c.org_unit_id WHERE {_COUNTED} "
    "GROUP BY t.parent_id, c.day HAVING SUM(c.records) <> 0 OR SUM(c.timely_records) <> 0",
)
_TRUE = {"postgresql": "true", "sqlite": "1"}


_PATH = re.compile(r"/(?:[0-9]+/)*")


def under_path(dialect: str, column: str, path: str) -> str:
    """SQL true when the unit path in `column` lies at or under `path` (a unit's path), as an index range scan.

    PostgreSQL range-scans `LIKE '/1/2/%'` on the text_pattern_ops index; SQLite range-scans `GLOB '/1/2/*'` on
    the plain index (its LIKE is case-insensitive and cannot). The prefix is written into the SQL, not bound: a
    prepared statement's generic plan cannot turn `LIKE $1` into a range. Paths are checked to hold only digits
    and slashes (no quote, no wildcard).
    """
    if not _PATH.fullmatch(path):
        raise ValueError(f"not a unit path: {path!r}")
    return f"{column} GLOB '{path}*'" if dialect == "sqlite" else f"{column} LIKE '{path}%'"


def path_range(path: str) -> dict[str, str]:
    """The bound values of under_range for `path` (a unit's path): its own path and the first string past its subtree.

    Every path under "/1/2/" starts with it, and "/1/20" (the last "/" raised to "0", the next character) is the
    smallest string above all of them; a path checked to hold only digits and slashes cannot fall in between.
    """
    if not _PATH.fullmatch(path):
        raise ValueError(f"not a unit path: {path!r}")
    return {"under": path, "under_end": path[:-1] + "0"}


def under_range(dialect: str, column: str) -> str:
    """SQL true when the unit path in `column` lies at or under the unit path bound as :under (see path_range).

    The same text for every unit, so a prepared statement and its plan serve them all (a prefix written into the
    SQL made each unit's statement new to PostgreSQL: planning cost a commune's report as much as its work). A
    range on bound values stays an index range scan even in a generic plan, which `LIKE $1` does not: PostgreSQL
    through the text_pattern_ops index with its byte-wise operators (whatever the database's collation), SQLite on
    the plain index (its default collation is byte-wise).
    """
    if dialect == "postgresql":
        return f"{column} ~>=~ :under AND {column} ~<~ :under_end"
    return f"{column} >= :under AND {column} < :under_end"


def under_paths(dialect: str, column: str, paths: Iterable[str]) -> str:
    """SQL true when the unit path in `column` lies at or under one of `paths` (each an index range scan)."""
    clauses = [under_path(dialect, column, path) for path in dict.fromkeys(paths)]
    return "(" + " OR ".join(clauses or ["1 = 0"]) + ")"


ROLLUP_TABLES = ("rollup_team_day", "rollup_team_day_records", "rollup_commune_day", "rollup_commune_day_records")
"""The rollup tables, each rebuilt from raw rows by `tocns rollup rebuild`."""


@dataclass
class RebuildResult:
    """What a rebuild wrote."""

    quantity_rows: int
    record_rows: int
    commune_quantity_rows: int = 0
    commune_record_rows: int = 0


async def rebuild(session: AsyncSession) -> RebuildResult:
    """Replace the rollups with sums over the live raw rows (the communes' over the teams'), in the caller's
    transaction.

    On PostgreSQL the tables are emptied with TRUNCATE and their secondary indexes dropped around the insert and
    built once after it (in the same transaction: a failure leaves the old rollups): at national size the insert
    maintaining five indexes row by row took over 49 minutes, about 20 without them.
    """
    conn = await session.connection()
    dialect = dialect_of(session)
    rebuild_indexes: list[str] = []
    if dialect == "postgresql":
        await conn.execute(text(f"TRUNCATE {', '.join(ROLLUP_TABLES)}"))
        await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for table in ROLLUP_TABLES:
            rows = [(str(k), str(n), str(d)) for k, n, d in (await conn.execute(text(secondary_sql(table)))).all()]
            drop, build = drop_and_rebuild(table, rows)
            for sql in drop:
                await conn.execute(text(sql))
            rebuild_indexes += build
    else:
        for table in ROLLUP_TABLES:
            await conn.execute(text(f"DELETE FROM {table}"))
    quantities = await conn.execute(
        text(f"INSERT INTO rollup_team_day (org_unit_id, day, indicator_id, quantity) {_RAW_QUANTITIES}")
    )
    records = await conn.execute(
        text(
            "INSERT INTO rollup_team_day_records (org_unit_id, day, records, timely_records) "
            + _RAW_RECORDS.format(timely=_TIMELY[dialect])
        )
    )
    communes = [
        (await conn.execute(text(sql.format(true=_TRUE[dialect])))).rowcount or 0 for sql in _COMMUNE_FROM_TEAMS
    ]
    for sql in rebuild_indexes:
        await conn.execute(text(sql))
    return RebuildResult(quantities.rowcount or 0, records.rowcount or 0, *communes)


async def differences(session: AsyncSession) -> list[str]:
    """Every rollup figure that differs from the raw rows' (empty when the rollups are exact), one line each."""
    conn = await session.connection()
    raw_q = await _keyed(conn, _RAW_QUANTITIES)
    roll_q = await _keyed(
        conn, "SELECT org_unit_id, day, indicator_id, quantity FROM rollup_team_day WHERE quantity <> 0"
    )
    raw_r = await _keyed(conn, _RAW_RECORDS.format(timely=_TIMELY[dialect_of(session)]))
    roll_r = await _keyed(
        conn,
        "SELECT org_unit_id, day, records, timely_records FROM rollup_team_day_records "
        "WHERE records <> 0 OR timely_records <> 0",
    )
    out = _compare("quantity", raw_q, roll_q) + _compare("records", raw_r, roll_r)
    true = _TRUE[dialect_of(session)]
    raw_cq = await _keyed(conn, _RAW_COMMUNE_QUANTITIES.format(true=true))
    roll_cq = await _keyed(
        conn, "SELECT org_unit_id, day, indicator_id, quantity FROM rollup_commune_day WHERE quantity <> 0"
    )
    raw_cr = await _keyed(conn, _RAW_COMMUNE_RECORDS.format(timely=_TIMELY[dialect_of(session)], true=true))
    roll_cr = await _keyed(
        conn,
        "SELECT org_unit_id, day, records, timely_records FROM rollup_commune_day_records "
        "WHERE records <> 0 OR timely_records <> 0",
    )
    return out + _compare("commune quantity", raw_cq, roll_cq) + _compare("commune records", raw_cr, roll_cr)


def _compare(label: str, raw: dict[tuple[Any, ...], int], rollup: dict[tuple[Any, ...], int]) -> list[str]:
    """One line per differing figure of two _keyed results; "records" ones are keyed by (unit, day): the last two
    columns are the values."""
    if label.endswith("records"):
        raw = {k[:2]: (k[2], v) for k, v in raw.items()}  # type: ignore[misc]
        rollup = {k[:2]: (k[2], v) for k, v in rollup.items()}  # type: ignore[misc]
    return [f"{label} {k}: raw {raw.get(k)}, rollup {rollup.get(k)}" for k in sorted(raw.keys() | rollup.keys())
            if raw.get(k) != rollup.get(k)]  # fmt: skip


async def _keyed(conn: Any, sql: str) -> dict[tuple[Any, ...], int]:
    """Rows of four columns as {(first three as text): int(last)}: dates compare alike on both databases."""
    rows = (await conn.execute(text(sql))).all()
    return {(int(a), str(b), int(c)): int(d or 0) for a, b, c, d in rows}
