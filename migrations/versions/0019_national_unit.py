"""A national unit above the provinces (so a national report and unit exist), and personal join codes: a join
code may name the imported person it was printed for (join_code.person_id, issue 27).

Existing databases get the national unit "VN" (Cả nước) when they hold provinces at the root; every province at the
root moves under it, and the materialized path and depth of everything below follow. Downgrade moves them back.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NATIONAL_CODE = "VN"
_ORG_UNIT = sa.table(
    "org_unit",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("name_folded", sa.String),
    sa.column("level", sa.String),
    sa.column("path", sa.String),
    sa.column("depth", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
)


def _national_id(conn: sa.Connection) -> int | None:
    row = conn.execute(sa.text("SELECT id FROM org_unit WHERE level = 'national' ORDER BY id LIMIT 1")).first()
    return int(row[0]) if row else None


def upgrade() -> None:
    with op.batch_alter_table("join_code") as batch:
        batch.add_column(sa.Column("person_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_join_code_person_id_person", "person", ["person_id"], ["id"])
        batch.create_index("ix_join_code_person_id", ["person_id"])
    conn = op.get_bind()
    roots = [
        int(r[0])
        for r in conn.execute(
            sa.text("SELECT id FROM org_unit WHERE parent_id IS NULL AND level = 'province' ORDER BY id")
        )
    ]
    taken = conn.execute(sa.text("SELECT 1 FROM org_unit WHERE code = :c"), {"c": NATIONAL_CODE}).first()
    if not roots or (_national_id(conn) is None and taken):
        return
    national = _national_id(conn)
    if national is None:
        conn.execute(
            _ORG_UNIT.insert().values(
                code=NATIONAL_CODE,
                name="Cả nước",
                name_folded="ca nuoc",
                level="national",
                path="",
                depth=0,
                active=True,
                created_at=datetime.now(UTC),
            )
        )
        national = _national_id(conn)
        conn.execute(sa.text("UPDATE org_unit SET path = :p WHERE id = :id"), {"p": f"/{national}/", "id": national})
    for root in roots:
        conn.execute(
            sa.text("UPDATE org_unit SET path = :prefix || path, depth = depth + 1 WHERE path LIKE :under"),
            {"prefix": f"/{national}", "under": f"/{root}/%"},
        )
        conn.execute(sa.text("UPDATE org_unit SET parent_id = :n WHERE id = :id"), {"n": national, "id": root})


def downgrade() -> None:
    conn = op.get_bind()
    national = _national_id(conn)
    if national is not None:
        prefix = f"/{national}"
        conn.execute(
            sa.text(
                "UPDATE org_unit SET path = substr(path, :cut), depth = depth - 1 WHERE path LIKE :under AND id <> :n"
            ),
            {"cut": len(prefix) + 1, "under": f"{prefix}/%", "n": national},
        )
        conn.execute(sa.text("UPDATE org_unit SET parent_id = NULL WHERE parent_id = :n"), {"n": national})
        for table in ("membership", "join_code", "chat_binding"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE org_unit_id = :n"), {"n": national})
        conn.execute(sa.text("DELETE FROM org_unit WHERE id = :n"), {"n": national})
    with op.batch_alter_table("join_code") as batch:
        batch.drop_index("ix_join_code_person_id")
        batch.drop_constraint("fk_join_code_person_id_person", type_="foreignkey")
        batch.drop_column("person_id")
