"""Activity: the default indicator catalogue seeded by the migration, not on first use.

On a fresh PostgreSQL database two workers used to race to insert it at their first /ghi (UniqueViolation, 15-37
updates failing their first attempt). Codes already present are left as they are (an operator's import wins).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 01:40:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDICATOR = sa.table(
    "indicator",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("unit", sa.String),
    sa.column("aliases", sa.Text),
    sa.column("max_per_message", sa.Integer),
    sa.column("sort_order", sa.Integer),
    sa.column("active", sa.Boolean),
)


def upgrade() -> None:
    # The catalogue shipped with the package (tocns/features/activity/data/indicators.json), in the same form
    # `tocns indicators import` writes it.
    from tocns.features.activity.grammar import default_specs

    present = {row[0] for row in op.get_bind().execute(sa.select(_INDICATOR.c.code))}
    rows = [
        {
            "code": spec.code,
            "name": spec.name,
            "unit": spec.unit,
            "aliases": json.dumps(list(spec.aliases), ensure_ascii=False),
            "max_per_message": spec.max_per_message,
            "sort_order": order * 10,
            "active": True,
        }
        for order, spec in enumerate(default_specs(), start=1)
        if spec.code not in present
    ]
    if rows:
        op.bulk_insert(_INDICATOR, rows)


def downgrade() -> None:
    # The rows stay: records refer to them.
    pass
