"""Inbound: the claim reads each chat's oldest pending update through a small index of pending updates only.

`ix_inbound_update_pending` (platform, chat_key, id) WHERE state = 'pending' replaces `ix_inbound_update_chat`
(platform, chat_key, state), which held every update kept for retention: the loop's claim walks the chats with
something pending, one index descent each, instead of every pending row (docs/inbound.md, "Claiming each chat's
head"), and the per-chat probes of the fast path read the same small index.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_inbound_update_pending",
        "inbound_update",
        ["platform", "chat_key", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.drop_index("ix_inbound_update_chat", table_name="inbound_update")


def downgrade() -> None:
    op.create_index("ix_inbound_update_chat", "inbound_update", ["platform", "chat_key", "state"])
    op.drop_index("ix_inbound_update_pending", table_name="inbound_update")
