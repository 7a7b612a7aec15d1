"""Inbound: a durable queue. Pending updates are claimed under a lease, retried with backoff, then parked.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_update") as batch:
        batch.add_column(sa.Column("chat_key", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("claimed_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch.create_index("ix_inbound_update_chat", ["platform", "chat_key", "state"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_update") as batch:
        batch.drop_index("ix_inbound_update_chat")
        for column in ("claimed_until", "claimed_by", "next_attempt_at", "attempts", "chat_key"):
            batch.drop_column(column)
