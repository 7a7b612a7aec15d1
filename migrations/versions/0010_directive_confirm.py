"""Directives: confirmation before a wide send, urgency, recall, and the role of whoever acknowledged.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("directive") as batch:
        batch.add_column(sa.Column("state", sa.String(length=10), nullable=False, server_default="sent"))
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("pending_communes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("recalled_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("directive_ack") as batch:
        batch.add_column(sa.Column("role", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("directive_ack") as batch:
        batch.drop_column("role")
    with op.batch_alter_table("directive") as batch:
        batch.drop_column("recalled_at")
        batch.drop_column("pending_communes")
        batch.drop_column("urgent")
        batch.drop_column("state")
