"""Scheduled jobs: which period each job (or each directive's reminders) has finished, so a minute inside a job's
window reads one row instead of every unit, chat and directive target (docs/decisions.md, "Idle ticks"). The
outbox's due index ends with the id: a claim of the oldest due rows (ORDER BY next_attempt_at, id) stops after
its LIMIT instead of sorting every row queued at the same moment (a Monday's thousands); the photos to keep are
read the same way, not through an index of their state and another of their time.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_done",
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", "scope"),
    )
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at", "id"])
    op.drop_index("ix_photo_evidence_next_attempt_at", table_name="photo_evidence")
    op.drop_index("ix_photo_evidence_state", table_name="photo_evidence")
    op.create_index("ix_photo_evidence_due", "photo_evidence", ["state", "next_attempt_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_photo_evidence_due", table_name="photo_evidence")
    op.create_index("ix_photo_evidence_state", "photo_evidence", ["state"])
    op.create_index("ix_photo_evidence_next_attempt_at", "photo_evidence", ["next_attempt_at"])
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.drop_table("job_done")
