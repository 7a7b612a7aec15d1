"""Deleting personal data that has served its purpose: processed inbound update bodies after N days."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.inbound_models import InboundState, InboundUpdate

# Rows deleted per statement: the first run after an upgrade may find months of updates, and one huge
# DELETE would hold its locks (and SQLite's single writer) for too long. The job runs every minute.
PURGE_BATCH = 5000


async def purge_processed_updates(session: AsyncSession, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete up to `batch` updates processed successfully and received before `before`; return how many.

    Only `done` updates go: a pending one is still to be processed and a failed one waits for the operator.
    What they produced (records, tasks, acknowledgements, the audit log) lives in its own tables and stays.
    """
    expired = (
        select(InboundUpdate.id)
        .where(
            col(InboundUpdate.state) == InboundState.DONE.value,
            # received_at first: the (state, received_at) index narrows the scan; processed_at makes it exact.
            col(InboundUpdate.received_at) < before,
            col(InboundUpdate.processed_at) < before,
        )
        .limit(batch)
    )
    result = await session.exec(  # type: ignore[call-overload]
        delete(InboundUpdate).where(col(InboundUpdate.id).in_(expired.scalar_subquery()))
    )
    return int(result.rowcount or 0)
