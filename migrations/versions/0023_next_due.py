"""Tasks: a stored next-due time, so an idle scheduler minute reads only the tasks with a reminder due (an index
range scan) instead of every open task's deadline. NULL: nothing more is due (cancelled, finished, reminded out).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.add_column(sa.Column("next_due_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.create_index("ix_task_next_due_at", ["next_due_at"])
    # Every open task is looked at on the first tick, which stores its real next-due time.
    op.execute("UPDATE task SET next_due_at = created_at WHERE status = 'open'")


def downgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_index("ix_task_next_due_at")
        batch.drop_column("next_due_at")
