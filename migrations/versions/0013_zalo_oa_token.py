"""Zalo OA: the OAuth v4 token pair of the Official Account (refresh tokens are single-use and rotate).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "zalo_oa_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("access_token", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("refresh_token", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("dead_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("refreshed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_zalo_oa_token_app_id"), "zalo_oa_token", ["app_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_zalo_oa_token_app_id"), table_name="zalo_oa_token")
    op.drop_table("zalo_oa_token")
