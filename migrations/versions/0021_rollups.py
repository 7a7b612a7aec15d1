"""Rollups: live quantity per (team, indicator, day) and live records per (team, day), kept by triggers on
activity_record and activity_item in the writing statement's own transaction, backfilled here; a prefix index on
org_unit.path for PostgreSQL's hierarchy filter `path LIKE '/1/2/%'`.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMELY_DAYS = 2
# Timeliness is counted in Vietnam's local days: UTC+7 all year (no daylight saving time since 1975).
_PG_TIMELY = f"(({{r}}.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh') < ({{r}}.activity_date + {TIMELY_DAYS + 1}))"
_SQLITE_TIMELY = f"(julianday({{r}}.created_at) + 7.0 / 24 < julianday({{r}}.activity_date) + {TIMELY_DAYS + 1})"

_QTY_UPSERT = (
    "INSERT INTO rollup_team_day (org_unit_id, day, indicator_id, quantity) {select} "
    "ON CONFLICT (org_unit_id, day, indicator_id) DO UPDATE SET quantity = rollup_team_day.quantity + excluded.quantity"
)
_REC_UPSERT = (
    "INSERT INTO rollup_team_day_records (org_unit_id, day, records, timely_records) {select} "
    "ON CONFLICT (org_unit_id, day) DO UPDATE SET records = rollup_team_day_records.records + excluded.records, "
    "timely_records = rollup_team_day_records.timely_records + excluded.timely_records"
)


def _sqlite_triggers() -> list[str]:
    def qty(unit: str, indicator: str, day: str, amount: str, where: str) -> str:
        return _QTY_UPSERT.format(select=f"SELECT {unit}, {day}, {indicator}, {amount} {where}") + ";"

    def rec(row: str, sign: str) -> str:
        timely = _SQLITE_TIMELY.format(r=row)
        select = (
            f"SELECT {row}.org_unit_id, {row}.activity_date, {sign}1, CASE WHEN {timely} THEN {sign}1 ELSE 0 END "
            f"WHERE {row}.deleted_at IS NULL"
        )
        return _REC_UPSERT.format(select=select) + ";"

    live = "FROM activity_record r WHERE r.id = {}.record_id AND r.deleted_at IS NULL"
    item_old = qty("r.org_unit_id", "OLD.indicator_id", "r.activity_date", "-OLD.quantity", live.format("OLD"))
    item_new = qty("r.org_unit_id", "NEW.indicator_id", "r.activity_date", "NEW.quantity", live.format("NEW"))
    items = "FROM activity_item i WHERE i.record_id = {0}.id AND {0}.deleted_at IS NULL GROUP BY i.indicator_id"
    record_old = qty("OLD.org_unit_id", "i.indicator_id", "OLD.activity_date", "-SUM(i.quantity)", items.format("OLD"))
    record_new = qty("NEW.org_unit_id", "i.indicator_id", "NEW.activity_date", "SUM(i.quantity)", items.format("NEW"))
    changed = (
        "OLD.activity_date IS NOT NEW.activity_date OR OLD.org_unit_id IS NOT NEW.org_unit_id "
        "OR OLD.created_at IS NOT NEW.created_at OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)"
    )
    return [
        f"CREATE TRIGGER rollup_item_insert AFTER INSERT ON activity_item BEGIN {item_new} END",
        f"CREATE TRIGGER rollup_item_delete AFTER DELETE ON activity_item BEGIN {item_old} END",
        f"CREATE TRIGGER rollup_item_update AFTER UPDATE ON activity_item BEGIN {item_old} {item_new} END",
        f"CREATE TRIGGER rollup_record_insert AFTER INSERT ON activity_record BEGIN {rec('NEW', '')} END",
        f"CREATE TRIGGER rollup_record_delete AFTER DELETE ON activity_record BEGIN {rec('OLD', '-')} END",
        "CREATE TRIGGER rollup_record_update AFTER UPDATE OF activity_date, org_unit_id, deleted_at, created_at "
        f"ON activity_record WHEN {changed} "
        f"BEGIN {record_old} {record_new} {rec('OLD', '-')} {rec('NEW', '')} END",
    ]


_PG_QTY = f"""
CREATE FUNCTION rollup_qty(p_unit integer, p_indicator integer, p_day date, p_qty bigint) RETURNS void AS $$
BEGIN
  IF p_qty <> 0 THEN
    {_QTY_UPSERT.format(select="VALUES (p_unit, p_day, p_indicator, p_qty)")};
  END IF;
END $$ LANGUAGE plpgsql
"""
_PG_ITEM = """
CREATE FUNCTION rollup_item() RETURNS trigger AS $$
DECLARE r record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT org_unit_id, activity_date INTO r FROM activity_record WHERE id = OLD.record_id AND deleted_at IS NULL;
    IF FOUND THEN PERFORM rollup_qty(r.org_unit_id, OLD.indicator_id, r.activity_date, -OLD.quantity); END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    SELECT org_unit_id, activity_date INTO r FROM activity_record WHERE id = NEW.record_id AND deleted_at IS NULL;
    IF FOUND THEN PERFORM rollup_qty(r.org_unit_id, NEW.indicator_id, r.activity_date, NEW.quantity); END IF;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_RECORD = f"""
CREATE FUNCTION rollup_record() RETURNS trigger AS $$
DECLARE i record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
    {_REC_UPSERT.format(select="VALUES (OLD.org_unit_id, OLD.activity_date, -1, " + "CASE WHEN " + _PG_TIMELY.format(r="OLD") + " THEN -1 ELSE 0 END)")};
    IF TG_OP = 'UPDATE' THEN
      FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = OLD.id GROUP BY indicator_id
      LOOP PERFORM rollup_qty(OLD.org_unit_id, i.indicator_id, OLD.activity_date, -i.q); END LOOP;
    END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.deleted_at IS NULL THEN
    {_REC_UPSERT.format(select="VALUES (NEW.org_unit_id, NEW.activity_date, 1, " + "CASE WHEN " + _PG_TIMELY.format(r="NEW") + " THEN 1 ELSE 0 END)")};
    IF TG_OP = 'UPDATE' THEN
      FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = NEW.id GROUP BY indicator_id
      LOOP PERFORM rollup_qty(NEW.org_unit_id, i.indicator_id, NEW.activity_date, i.q); END LOOP;
    END IF;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    _PG_QTY,
    _PG_ITEM,
    _PG_RECORD,
    "CREATE TRIGGER rollup_item AFTER INSERT OR UPDATE OR DELETE ON activity_item FOR EACH ROW "
    "EXECUTE FUNCTION rollup_item()",
    "CREATE TRIGGER rollup_record_write AFTER INSERT OR DELETE ON activity_record FOR EACH ROW "
    "EXECUTE FUNCTION rollup_record()",
    "CREATE TRIGGER rollup_record_update AFTER UPDATE OF activity_date, org_unit_id, deleted_at, created_at "
    "ON activity_record FOR EACH ROW "
    "WHEN (OLD.activity_date IS DISTINCT FROM NEW.activity_date OR OLD.org_unit_id IS DISTINCT FROM NEW.org_unit_id "
    "OR OLD.created_at IS DISTINCT FROM NEW.created_at OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)) "
    "EXECUTE FUNCTION rollup_record()",
]

BACKFILL = [
    "INSERT INTO rollup_team_day (org_unit_id, day, indicator_id, quantity) "
    "SELECT r.org_unit_id, r.activity_date, i.indicator_id, SUM(i.quantity) FROM activity_record r "
    "JOIN activity_item i ON i.record_id = r.id WHERE r.deleted_at IS NULL "
    "GROUP BY r.org_unit_id, r.activity_date, i.indicator_id",
    "INSERT INTO rollup_team_day_records (org_unit_id, day, records, timely_records) "
    "SELECT r.org_unit_id, r.activity_date, COUNT(*), SUM(CASE WHEN {timely} THEN 1 ELSE 0 END) "
    "FROM activity_record r WHERE r.deleted_at IS NULL GROUP BY r.org_unit_id, r.activity_date",
]


def upgrade() -> None:
    op.create_table(
        "rollup_team_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_unit_id", "day", "indicator_id", name="uq_rollup_team_day_key"),
    )
    op.create_index("ix_rollup_team_day_cover", "rollup_team_day", ["day", "org_unit_id", "indicator_id", "quantity"])
    op.create_table(
        "rollup_team_day_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("timely_records", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_unit_id", "day", name="uq_rollup_team_day_records_key"),
    )
    op.create_index(
        "ix_rollup_team_day_records_cover",
        "rollup_team_day_records",
        ["day", "org_unit_id", "records", "timely_records"],
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        # The default B-tree follows the database's collation, which LIKE 'prefix%' cannot range-scan; SQLite's
        # `path GLOB 'prefix*'` range-scans the existing ix_org_unit_path (BINARY collation).
        op.execute("CREATE INDEX ix_org_unit_path_prefix ON org_unit (path text_pattern_ops)")
    timely = (_SQLITE_TIMELY if sqlite else _PG_TIMELY).format(r="r")
    for statement in BACKFILL:
        op.execute(statement.format(timely=timely))
    for statement in _sqlite_triggers() if sqlite else _PG_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("item_insert", "item_delete", "item_update", "record_insert", "record_delete", "record_update"):
            op.execute(f"DROP TRIGGER IF EXISTS rollup_{name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS rollup_item ON activity_item")
        op.execute("DROP TRIGGER IF EXISTS rollup_record_write ON activity_record")
        op.execute("DROP TRIGGER IF EXISTS rollup_record_update ON activity_record")
        for name in ("rollup_item()", "rollup_record()", "rollup_qty(integer, integer, date, bigint)"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}")
        op.execute("DROP INDEX IF EXISTS ix_org_unit_path_prefix")
    op.drop_index("ix_rollup_team_day_records_cover", table_name="rollup_team_day_records")
    op.drop_table("rollup_team_day_records")
    op.drop_index("ix_rollup_team_day_cover", table_name="rollup_team_day")
    op.drop_table("rollup_team_day")
