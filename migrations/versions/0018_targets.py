"""Targets: goals per unit, indicator and year (or month), the units' households and adults, and the live monthly
totals of activity that progress reads (kept by triggers on activity_record and activity_item, backfilled here).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UPSERT = (
    "INSERT INTO activity_month_total (org_unit_id, indicator_id, month, quantity) {select} "
    "ON CONFLICT (org_unit_id, indicator_id, month) DO UPDATE "
    "SET quantity = activity_month_total.quantity + excluded.quantity"
)
_SQLITE_MONTH = "CAST(strftime('%Y%m', {day}) AS INTEGER)"
_PG_MONTH = "(EXTRACT(YEAR FROM {day})::int * 100 + EXTRACT(MONTH FROM {day})::int)"


def _sqlite_triggers() -> list[str]:
    def add(unit: str, indicator: str, day: str, qty: str, where: str) -> str:
        month = _SQLITE_MONTH.format(day=day)
        return _UPSERT.format(select=f"SELECT {unit}, {indicator}, {month}, {qty} {where}") + ";"

    item_old = add(
        "r.org_unit_id", "OLD.indicator_id", "r.activity_date", "-OLD.quantity",
        "FROM activity_record r WHERE r.id = OLD.record_id AND r.deleted_at IS NULL",
    )  # fmt: skip
    item_new = add(
        "r.org_unit_id", "NEW.indicator_id", "r.activity_date", "NEW.quantity",
        "FROM activity_record r WHERE r.id = NEW.record_id AND r.deleted_at IS NULL",
    )  # fmt: skip
    record_old = add(
        "OLD.org_unit_id", "i.indicator_id", "OLD.activity_date", "-SUM(i.quantity)",
        "FROM activity_item i WHERE i.record_id = OLD.id AND OLD.deleted_at IS NULL GROUP BY i.indicator_id",
    )  # fmt: skip
    record_new = add(
        "NEW.org_unit_id", "i.indicator_id", "NEW.activity_date", "SUM(i.quantity)",
        "FROM activity_item i WHERE i.record_id = NEW.id AND NEW.deleted_at IS NULL GROUP BY i.indicator_id",
    )  # fmt: skip
    return [
        f"CREATE TRIGGER amt_item_insert AFTER INSERT ON activity_item BEGIN {item_new} END",
        f"CREATE TRIGGER amt_item_delete AFTER DELETE ON activity_item BEGIN {item_old} END",
        f"CREATE TRIGGER amt_item_update AFTER UPDATE ON activity_item BEGIN {item_old} {item_new} END",
        "CREATE TRIGGER amt_record_update AFTER UPDATE OF activity_date, org_unit_id, deleted_at ON activity_record "
        "WHEN OLD.activity_date IS NOT NEW.activity_date OR OLD.org_unit_id IS NOT NEW.org_unit_id "
        "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) "
        f"BEGIN {record_old} {record_new} END",
    ]


_PG_ADD = f"""
CREATE FUNCTION amt_add(p_unit integer, p_indicator integer, p_day date, p_qty bigint) RETURNS void AS $$
BEGIN
  IF p_qty <> 0 THEN
    {_UPSERT.format(select="VALUES (p_unit, p_indicator, " + _PG_MONTH.format(day="p_day") + ", p_qty)")};
  END IF;
END $$ LANGUAGE plpgsql
"""
_PG_ITEM = """
CREATE FUNCTION amt_item() RETURNS trigger AS $$
DECLARE r record;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT org_unit_id, activity_date INTO r FROM activity_record WHERE id = OLD.record_id AND deleted_at IS NULL;
    IF FOUND THEN PERFORM amt_add(r.org_unit_id, OLD.indicator_id, r.activity_date, -OLD.quantity); END IF;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    SELECT org_unit_id, activity_date INTO r FROM activity_record WHERE id = NEW.record_id AND deleted_at IS NULL;
    IF FOUND THEN PERFORM amt_add(r.org_unit_id, NEW.indicator_id, r.activity_date, NEW.quantity); END IF;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_RECORD = """
CREATE FUNCTION amt_record() RETURNS trigger AS $$
DECLARE i record;
BEGIN
  IF OLD.deleted_at IS NULL THEN
    FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = OLD.id GROUP BY indicator_id
    LOOP PERFORM amt_add(OLD.org_unit_id, i.indicator_id, OLD.activity_date, -i.q); END LOOP;
  END IF;
  IF NEW.deleted_at IS NULL THEN
    FOR i IN SELECT indicator_id, SUM(quantity) AS q FROM activity_item WHERE record_id = NEW.id GROUP BY indicator_id
    LOOP PERFORM amt_add(NEW.org_unit_id, i.indicator_id, NEW.activity_date, i.q); END LOOP;
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql
"""
_PG_TRIGGERS = [
    _PG_ADD,
    _PG_ITEM,
    _PG_RECORD,
    "CREATE TRIGGER amt_item AFTER INSERT OR UPDATE OR DELETE ON activity_item FOR EACH ROW "
    "EXECUTE FUNCTION amt_item()",
    "CREATE TRIGGER amt_record AFTER UPDATE OF activity_date, org_unit_id, deleted_at ON activity_record FOR EACH ROW "
    "WHEN (OLD.activity_date IS DISTINCT FROM NEW.activity_date OR OLD.org_unit_id IS DISTINCT FROM NEW.org_unit_id "
    "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)) EXECUTE FUNCTION amt_record()",
]


def upgrade() -> None:
    op.create_table(
        "target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("share_of", sa.String(length=20), nullable=True),
        sa.Column("share_percent", sa.Integer(), nullable=True),
        sa.Column("set_by_person_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_unit.id"]),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicator.id"]),
        sa.ForeignKeyConstraint(["set_by_person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_unit_id", "indicator_id", "year", "month", name="uq_target_key"),
    )
    op.create_index("ix_target_org_unit_id", "target", ["org_unit_id"])
    op.create_index("ix_target_year", "target", ["year"])
    op.create_table(
        "unit_population",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column("adults", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_unit_id"], ["org_unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_unit_id"),
    )
    op.create_table(
        "activity_month_total",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_unit_id", "indicator_id", "month", name="uq_activity_month_total_key"),
    )
    op.create_index(
        "ix_activity_month_total_cover", "activity_month_total", ["indicator_id", "month", "org_unit_id", "quantity"]
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    month = (_SQLITE_MONTH if sqlite else _PG_MONTH).format(day="r.activity_date")
    op.execute(
        "INSERT INTO activity_month_total (org_unit_id, indicator_id, month, quantity) "
        f"SELECT r.org_unit_id, i.indicator_id, {month}, SUM(i.quantity) FROM activity_record r "
        "JOIN activity_item i ON i.record_id = r.id WHERE r.deleted_at IS NULL "
        f"GROUP BY r.org_unit_id, i.indicator_id, {month}"
    )
    for statement in _sqlite_triggers() if sqlite else _PG_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("amt_item_insert", "amt_item_delete", "amt_item_update", "amt_record_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS amt_item ON activity_item")
        op.execute("DROP TRIGGER IF EXISTS amt_record ON activity_record")
        for name in ("amt_item()", "amt_record()", "amt_add(integer, integer, date, bigint)"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.drop_index("ix_activity_month_total_cover", table_name="activity_month_total")
    op.drop_table("activity_month_total")
    op.drop_table("unit_population")
    op.drop_index("ix_target_year", table_name="target")
    op.drop_index("ix_target_org_unit_id", table_name="target")
    op.drop_table("target")
