"""People keep the name the team sheet gave them once their chat account claims the imported entry.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add person.roster_name."""
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("roster_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Drop person.roster_name."""
    with op.batch_alter_table("person") as batch:
        batch.drop_column("roster_name")
