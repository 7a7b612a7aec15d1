"""Directive API: idempotency keys of POST /api/v1/directives.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 06:40:06.274156
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('directive_api_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('api_token_id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('directive_id', sa.Integer(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['api_token_id'], ['api_token.id'], ),
    sa.ForeignKeyConstraint(['directive_id'], ['directive.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('api_token_id', 'idempotency_key', name='uq_directive_api_request_key')
    )


def downgrade() -> None:
    op.drop_table('directive_api_request')
