"""Delete processed inbound update bodies older than INBOUND_RETENTION_DAYS (personal data kept no longer)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tocns.inbound.store import purge_processed_updates

if TYPE_CHECKING:
    from tocns.core.jobs import JobContext


async def inbound_retention(app: JobContext, now: datetime) -> list[str]:
    """Delete what has expired at `now`, one batch per run; idempotent, so any tick may run it."""
    days = app.settings.inbound_retention_days
    if days <= 0:
        return []  # 0 or less: keep everything (an operator's explicit choice, e.g. during an investigation)
    async with app.db.session() as session:
        deleted = await purge_processed_updates(session, now - timedelta(days=days))
    return [f"đã xóa {deleted} bản tin nhận (inbound) đã xử lý quá {days} ngày"] if deleted else []
