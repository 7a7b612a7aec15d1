"""Photo evidence: each photo sent with a /ghi, fetched from its platform into FILES_DIR and retried until kept.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create photo_evidence."""
    op.create_table(
        "photo_evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("activity_record.id"), nullable=False, unique=True),
        sa.Column("platform", sqlmodel.AutoString(length=20), nullable=False),
        sa.Column("source", sqlmodel.AutoString(length=1000), nullable=False),
        sa.Column("state", sqlmodel.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("error", sqlmodel.AutoString(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_photo_evidence_state", "photo_evidence", ["state"])
    op.create_index("ix_photo_evidence_next_attempt_at", "photo_evidence", ["next_attempt_at"])


def downgrade() -> None:
    """Drop photo_evidence."""
    op.drop_index("ix_photo_evidence_next_attempt_at", table_name="photo_evidence")
    op.drop_index("ix_photo_evidence_state", table_name="photo_evidence")
    op.drop_table("photo_evidence")
