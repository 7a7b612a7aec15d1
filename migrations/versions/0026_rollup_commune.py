"""Rollups per commune: live quantity per (commune, day, indicator) and live records per (commune, day), summed over
the active teams directly under each unit, kept by the triggers that keep the team rollups (same statement, same
transaction) and moved by a trigger on org_unit when a team changes parent, level or activity; backfilled from the
team rollups. The whole country's report sums a few thousand communes' rows instead of its teams' millions.

"Commune" is the team's parent, whatever its level. Keyed by the parent's id, not its path: a commune moved to
another province (its path rewritten) changes no row; the report finds each commune's province from its path.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMELY_DAYS = 2
# The same timeliness as migration 0021 (Vietnam's local days, UTC+7 all year).
_PG_TIMELY = f"(({{r}}.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh') < ({{r}}.activity_date + {TIMELY_DAYS + 1}))"
_SQLITE_TIMELY = f"(julianday({{r}}.created_at) + 7.0 / 24 < julianday({{r}}.activity_date) + {TIMELY_DAYS + 1})"

# A unit counted in its parent's commune rows (the report's teams: active units of level team, under a parent).
_COUNTED = "{t}.level = 'team' AND {t}.active AND {t}.parent_id IS NOT NULL"

_QTY = {
    "team": "rollup_team_day",
    "commune": "rollup_commune_day",
}
_REC = {
    "team": "rollup_team_day_records",
    "commune": "rollup_commune_day_records",
}


def _qty_upsert(table: str, select: str) -> str:
    return (
        f"INSERT INTO {table} (org_unit_id, day, indicator_id, quantity) {select} "
        f"ON CONFLICT (org_unit_id, day, indicator_id) DO UPDATE SET quantity = {table}.quantity + excluded.quantity"
    )


def _rec_upsert(table: str, select: str) -> str:
    return (
        f"INSERT INTO {table} (org_unit_id, day, records, timely_records) {select} "
        f"ON CONFLICT (org_unit_id, day) DO UPDATE SET records = {table}.records + excluded.records, "
        f"timely_records = {table}.timely_records + excluded.timely_records"
    )


# --- SQLite: migration 0021's six triggers again, each team upsert followed by its commune upsert. ---


def _sqlite_qty(unit: str, indicator: str, day: str, amount: str, source: str, where: str, tail: str = "") -> str:
    """The team upsert and the commune upsert of one change: `source` the FROM list, `unit` the team's id there."""
    team = _qty_upsert(_QTY["team"], f"SELECT {unit}, {day}, {indicator}, {amount} FROM {source} WHERE {where}{tail}")
    commune = _qty_upsert(
        _QTY["commune"],
        f"SELECT t.parent_id, {day}, {indicator}, {amount} FROM {source}, org_unit t "
        f"WHERE {where} AND t.id = {unit} AND {_COUNTED.format(t='t')}{tail}",
    )
    return f"{team}; {commune};"


def _sqlite_rec(row: str, sign: str) -> str:
    timely = _SQLITE_TIMELY.format(r=row)
    values = f"{row}.activity_date, {sign}1, CASE WHEN {timely} THEN {sign}1 ELSE 0 END"
    team = _rec_upsert(_REC["team"], f"SELECT {row}.org_unit_id, {values} WHERE {row}.deleted_at IS NULL")
    commune = _rec_upsert(
        _REC["commune"],
        f"SELECT t.parent_id, {values} FROM org_unit t "
        f"WHERE t.id = {row}.org_unit_id AND {row}.deleted_at IS NULL AND {_COUNTED.format(t='t')}",
    )
    return f"{team}; {commune};"


def _sqlite_shift(row: str, sign: str) -> str:
    """Add (sign "") or take away (sign "-") every rollup row of the team `row` (NEW or OLD) to its parent's."""
    counted = _COUNTED.format(t=row)
    qty = _qty_upsert(
        _QTY["commune"],
        f"SELECT {row}.parent_id, q.day, q.indicator_id, {sign}q.quantity FROM rollup_team_day q "
        f"WHERE q.org_unit_id = {row}.id AND {counted}",
    )
    rec = _rec_upsert(
        _REC["commune"],
        f"SELECT {row}.parent_id, c.day, {sign}c.records, {sign}c.timely_records FROM rollup_team_day_records c "
        f"WHERE c.org_unit_id = {row}.id AND {counted}",
    )
    return f"{qty}; {rec};"


_SQLITE_UNIT_CHANGED = (
    "(OLD.level = 'team' OR NEW.level = 'team') AND (OLD.parent_id IS NOT NEW.parent_id OR OLD.level IS NOT NEW.level "
    "OR OLD.active IS NOT NEW.active)"
)


def _sqlite_triggers() -> list[str]:
    live = "r.id = {}.record_id AND r.deleted_at IS NULL"
    item_old = _sqlite_qty("r.org_unit_id", "OLD.indicator_id", "r.activity_date", "-OLD.quantity",
                           "activity_record r", live.format("OLD"))  # fmt: skip
    item_new = _sqlite_qty("r.org_unit_id", "NEW.indicator_id", "r.activity_date", "NEW.quantity",
                           "activity_record r", live.format("NEW"))  # fmt: skip
    items = "i.record_id = {0}.id AND {0}.deleted_at IS NULL"
    group = " GROUP BY i.indicator_id"
    record_old = _sqlite_qty("OLD.org_unit_id", "i.indicator_id", "OLD.activity_date", "-SUM(i.quantity)",
                             "activity_item i", items.format("OLD"), group)  # fmt: skip
    record_new = _sqlite_qty("NEW.org_unit_id", "i.indicator_id", "NEW.activity_date", "SUM(i.quantity)",
                             "activity_item i", items.format("NEW"), group)  # fmt: skip
    changed = (
        "OLD.activity_date IS NOT NEW.activity_date OR OLD.org_unit_id IS NOT NEW.org_unit_id "
        "OR OLD.created_at IS NOT NEW.created_at OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    )
    return [
        f"CREATE TRIGGER rollup_item_insert AFTER INSERT ON activity_item BEGIN {item_new} END",
        f"CREATE TRIGGER rollup_item_delete AFTER DELETE ON activity_item BEGIN {item_old} END",
        f"CREATE TRIGGER rollup_item_update AFTER UPDATE ON activity_item BEGIN {item_old} {item_new} END",
        f"CREATE TRIGGER rollup_record_insert AFTER INSERT ON activity_record BEGIN {_sqlite_rec('NEW', '')} END",
        f"CREATE TRIGGER rollup_record_delete AFTER DELETE ON activity_record BEGIN {_sqlite_rec('OLD', '-')} END",
        "CREATE TRIGGER rollup_record_update AFTER UPDATE OF activity_date, org_unit_id, deleted_at, created_at "
        f"ON activity_record WHEN {changed} "
        f"BEGIN {record_old} {record_new} {_sqlite_rec('OLD', '-')} {_sqlite_rec('NEW', '')} END",
        f"CREATE TRIGGER rollup_unit_insert AFTER INSERT ON org_unit BEGIN {_sqlite_shift('NEW', '')} END",
        f"CREATE TRIGGER rollup_unit_delete AFTER DELETE ON org_unit BEGIN {_sqlite_shift('OLD', '-')} END",
        f"CREATE TRIGGER rollup_unit_update AFTER UPDATE OF parent_id, level, active ON org_unit "
        f"WHEN {_SQLITE_UNIT_CHANGED} BEGIN {_sqlite_shift('OLD', '-')} {_sqlite_shift('NEW', '')} END",
    ]


_SQLITE_RECORD_TRIGGERS = (
    "item_insert", "item_delete", "item_update", "record_insert", "record_delete", "record_update"
)  # fmt: skip
_SQLITE_UNIT_TRIGGERS = ("unit_insert", "unit_delete", "unit_update")

# --- PostgreSQL: rollup_qty (called per item change) and rollup_record write the commune row after the team's; the
# commune is the team's parent read by key (one index lookup per upsert). ---

_PG_QTY = f"""
CREATE OR REPLACE FUNCTION rollup_qty(p_unit integer, p_indicator integer, p_day date, p_qty bigint) RETURNS void AS $$
DECLARE v_commune integer;
BEGIN
  IF p_qty <> 0 THEN
    {_qty_upsert(_QTY["team"], "VALUES (p_unit, p_day, p_indicator, p_qty)")};
    SELECT t.parent_id INTO v_commune FROM org_unit t WHERE t.id = p_unit AND {_COUNTED.format(t="t")};
    IF v_commune IS NOT NULL THEN
      {_qty_upsert(_QTY["commune"], "VALUES (v_commune, p_day, p_indicator, p_qty)")};
    END IF;
  END IF;
END $$ LANGUAGE plpgsql
"""
_PG_REC = f"""
CREATE FUNCTION rollup_rec(p_unit integer, p_day date, p_records integer, p_timely integer) RETURNS void AS $$
DECLARE v_commune integer;
BEGIN
  {_rec_upsert(_REC["team"], "VALUES (p_unit, p_day, p_records, p_timely)")};
  SELECT t.parent_id INTO v_commune FROM org_unit t WHERE t.id = p_unit AND {_COUNTED.format(t="t")};
  IF v_commune IS NOT NULL THEN
    {_rec_upsert(_REC["commune"], "VALUES (v_commune, p_day, p_records, p_timely)")};
  END IF;
END $$ LANGUAGE plpgsql
"""
_PG_RECORD = f"""
CREATE OR REPLACE FUNCTION rollup_record() RETURNS trigger AS $$
DECLARE i record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
    PERFORM rollup_rec(OLD.org_unit_id, OLD.activity_date, -1,
                       CASE WHEN {_PG_TIMELY.format(r="OLD")} THEN -1 ELSE 0 END);
    IF TG_OP = 'UPDATE' THEN
      FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = OLD.id GROUP BY indicator_id
      LOOP PERFORM rollup_qty(OLD.org_unit_id, i.indicator_id, OLD.activity_date, -i.q); END LOOP;
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
    PERFORM rollup_rec(NEW.org_unit_id, NEW.activity_date, 1,
                       CASE WHEN {_PG_TIMELY.format(r="NEW")} THEN 1 ELSE 0 END);
    IF TG_OP = 'UPDATE' THEN
      FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = NEW.id GROUP BY indicator_id
      LOOP PERFORM rollup_qty(NEW.org_unit_id, i.indicator_id, NEW.activity_date, i.q); END LOOP;
    END IF;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_SHIFT = f"""
CREATE FUNCTION rollup_commune_shift(p_team integer, p_commune integer, p_sign integer) RETURNS void AS $$
BEGIN
  {
    _qty_upsert(
        _QTY["commune"],
        "SELECT p_commune, q.day, q.indicator_id, p_sign * q.quantity "
        "FROM rollup_team_day q WHERE q.org_unit_id = p_team AND q.quantity <> 0",
    )
};
  {
    _rec_upsert(
        _REC["commune"],
        "SELECT p_commune, c.day, p_sign * c.records, p_sign * c.timely_records "
        "FROM rollup_team_day_records c WHERE c.org_unit_id = p_team",
    )
};
END $$ LANGUAGE plpgsql
"""
_PG_UNIT = f"""
CREATE FUNCTION rollup_unit() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND {_COUNTED.format(t="OLD")} THEN
    PERFORM rollup_commune_shift(OLD.id, OLD.parent_id, -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND {_COUNTED.format(t="NEW")} THEN
    PERFORM rollup_commune_shift(NEW.id, NEW.parent_id, 1);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    _PG_REC,
    _PG_QTY,
    _PG_RECORD,
    _PG_SHIFT,
    _PG_UNIT,
    "CREATE TRIGGER rollup_unit_write AFTER INSERT OR DELETE ON org_unit FOR EACH ROW EXECUTE FUNCTION rollup_unit()",
    "CREATE TRIGGER rollup_unit_update AFTER UPDATE OF parent_id, level, active ON org_unit FOR EACH ROW "
    "WHEN ((OLD.level = 'team' OR NEW.level = 'team') AND (OLD.parent_id IS DISTINCT FROM NEW.parent_id "
    "OR OLD.level IS DISTINCT FROM NEW.level OR OLD.active IS DISTINCT FROM NEW.active)) "
    "EXECUTE FUNCTION rollup_unit()",
]

BACKFILL = [
    "INSERT INTO rollup_commune_day (org_unit_id, day, indicator_id, quantity) "
    "SELECT t.parent_id, q.day, q.indicator_id, SUM(q.quantity) FROM rollup_team_day q "
    f"JOIN org_unit t ON t.id = q.org_unit_id WHERE {_COUNTED.format(t='t')} "
    "GROUP BY t.parent_id, q.day, q.indicator_id HAVING SUM(q.quantity) <> 0",
    "INSERT INTO rollup_commune_day_records (org_unit_id, day, records, timely_records) "
    "SELECT t.parent_id, c.day, SUM(c.records), SUM(c.timely_records) FROM rollup_team_day_records c "
    f"JOIN org_unit t ON t.id = c.org_unit_id WHERE {_COUNTED.format(t='t')} "
    "GROUP BY t.parent_id, c.day HAVING SUM(c.records) <> 0 OR SUM(c.timely_records) <> 0",
]


def upgrade() -> None:
    op.create_table(
        "rollup_commune_day",
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_unit_id", "day", "indicator_id"),
    )
    op.create_table(
        "rollup_commune_day_records",
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("timely_records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_unit_id", "day"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in BACKFILL:
        op.execute(statement)
    # The day-led covering indexes after the backfill: one sort each instead of a row-by-row insert.
    op.create_index(
        "ix_rollup_commune_day_cover", "rollup_commune_day", ["day", "org_unit_id", "indicator_id", "quantity"]
    )
    op.create_index(
        "ix_rollup_commune_day_records_cover",
        "rollup_commune_day_records",
        ["day", "org_unit_id", "records", "timely_records"],
    )
    if sqlite:
        for name in _SQLITE_RECORD_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS rollup_{name}")
        for statement in _sqlite_triggers():
            op.execute(statement)
    else:
        for statement in _PG_TRIGGERS:
            op.execute(statement)
    if not sqlite:
        op.execute("ANALYZE rollup_commune_day")
        op.execute("ANALYZE rollup_commune_day_records")


def _migration_0021() -> ModuleType:
    """Migration 0021's module (its triggers are put back on downgrade); its file name is no Python name."""
    spec = importlib.util.spec_from_file_location("migration_0021", Path(__file__).with_name("0021_rollups.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def downgrade() -> None:
    m0021 = _migration_0021()
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_RECORD_TRIGGERS + _SQLITE_UNIT_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS rollup_{name}")
        for statement in m0021._sqlite_triggers():
            op.execute(statement)
    else:
        op.execute("DROP TRIGGER IF EXISTS rollup_unit_write ON org_unit")
        op.execute("DROP TRIGGER IF EXISTS rollup_unit_update ON org_unit")
        op.execute("DROP TRIGGER IF EXISTS rollup_item ON activity_item")
        op.execute("DROP TRIGGER IF EXISTS rollup_record_write ON activity_record")
        op.execute("DROP TRIGGER IF EXISTS rollup_record_update ON activity_record")
        for name in ("rollup_unit()", "rollup_commune_shift(integer, integer, integer)", "rollup_item()",
                     "rollup_record()", "rollup_rec(integer, date, integer, integer)",
                     "rollup_qty(integer, integer, date, bigint)"):  # fmt: skip
            op.execute(f"DROP FUNCTION IF EXISTS {name}")
        for statement in m0021._PG_TRIGGERS:
            op.execute(statement)
    op.drop_index("ix_rollup_commune_day_records_cover", table_name="rollup_commune_day_records")
    op.drop_table("rollup_commune_day_records")
    op.drop_index("ix_rollup_commune_day_cover", table_name="rollup_commune_day")
    op.drop_table("rollup_commune_day")
