"""Rollups: covering indexes led by the team, so a commune's or a province's report reads its own teams' rows
(an index-only range scan per team) instead of the whole country's rows of the period.

The unique keys (team, day[, indicator]) hold no figures: PostgreSQL preferred scanning the period for every team
of the country through the day-led covering indexes (135,596 rows for a commune's 465 at 8,000 teams).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_rollup_team_day_team_cover", "rollup_team_day", ["org_unit_id", "day", "indicator_id", "quantity"]
    )
    op.create_index(
        "ix_rollup_team_day_records_team_cover",
        "rollup_team_day_records",
        ["org_unit_id", "day", "records", "timely_records"],
    )


def downgrade() -> None:
    op.drop_index("ix_rollup_team_day_records_team_cover", table_name="rollup_team_day_records")
    op.drop_index("ix_rollup_team_day_team_cover", table_name="rollup_team_day")
