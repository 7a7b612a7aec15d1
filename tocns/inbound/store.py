"""Storing inbound updates before processing them, and marking them processed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.clock import utcnow
from tocns.db.dialect import is_postgres
from tocns.db.upsert import per_dialect, table_of
from tocns.inbound.models import InboundState, InboundUpdate, ProcessedMessage
from tocns.outbox.models import OutboxMessage, OutboxState


async def store_update(
    session: AsyncSession, platform: str, update_key: str, body: dict[str, Any], now: datetime | None = None
) -> InboundUpdate | None:
    """Store an update; None when the same (platform, key) was already stored (a redelivery)."""
    values: dict[str, Any] = {
        "platform": platform,
        "update_key": update_key[:200],
        "body": json.dumps(body, ensure_ascii=False),
        "state": InboundState.PENDING.value,
        "received_at": now or utcnow(),
    }
    # One INSERT ... ON CONFLICT DO NOTHING: no savepoint round trips on the webhook's hot path.
    insert = pg_insert if is_postgres(session) else sqlite_insert
    statement = insert(InboundUpdate).values(**values).on_conflict_do_nothing().returning(col(InboundUpdate.id))
    row_id = (await session.exec(statement)).scalar_one_or_none()  # type: ignore[call-overload]
    if row_id is None:
        return None
    return InboundUpdate(id=row_id, **values)


async def store_updates(
    session: AsyncSession, updates: list[tuple[str, str, dict[str, Any]]], now: datetime | None = None
) -> list[int | None]:
    """Store several (platform, key, body) updates in one statement; per update its row id, or None when the
    same (platform, key) was stored before or earlier in the same list (a redelivery)."""
    received_at = now or utcnow()
    first: dict[tuple[str, str], int] = {}
    rows: list[dict[str, Any]] = []
    for index, (platform, key, body) in enumerate(updates):
        ident = (platform, key[:200])
        if ident in first:
            continue
        first[ident] = index
        rows.append(
            {
                "platform": platform,
                "update_key": key[:200],
                "body": json.dumps(body, ensure_ascii=False),
                "state": InboundState.PENDING.value,
                "received_at": received_at,
            }
        )
    insert = pg_insert if is_postgres(session) else sqlite_insert
    statement = (
        insert(InboundUpdate)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(col(InboundUpdate.id), col(InboundUpdate.platform), col(InboundUpdate.update_key))
    )
    stored = {(platform, key): row_id for row_id, platform, key in (await session.exec(statement)).all()}  # type: ignore[call-overload]
    result: list[int | None] = [None] * len(updates)
    for ident, index in first.items():
        result[index] = stored.get(ident)
    return result


async def get_update(session: AsyncSession, update_id: int) -> InboundUpdate | None:
    """One stored update by its row id."""
    return await session.get(InboundUpdate, update_id)


async def finish_update(session: AsyncSession, update_id: int, error: str | None = None) -> None:
    """Mark a stored update done, or failed with the error's first line."""
    await session.exec(
        update(InboundUpdate)  # type: ignore[call-overload]
        .where(col(InboundUpdate.id) == update_id)
        .values(
            state=InboundState.FAILED if error else InboundState.DONE,
            error=error[:500] if error else None,
            processed_at=utcnow(),
        )
    )


async def pending_updates(
    session: AsyncSession, limit: int = 100, after_id: int = 0, received_before: datetime | None = None
) -> list[InboundUpdate]:
    """Updates stored but never processed (the process stopped in between), oldest first, from `after_id` on."""
    query = select(InboundUpdate).where(InboundUpdate.state == InboundState.PENDING, col(InboundUpdate.id) > after_id)
    if received_before is not None:
        query = query.where(col(InboundUpdate.received_at) <= received_before)
    result = await session.exec(query.order_by(col(InboundUpdate.id)).limit(limit))
    return list(result.all())


async def outbox_depth(session: AsyncSession) -> int:
    """How many outbox messages are not delivered yet (waiting, or being sent right now)."""
    waiting = (OutboxState.PENDING, OutboxState.SENDING)
    result = await session.exec(
        select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.state).in_(waiting))
    )
    return int(result.one())


_PROCESSED = table_of(ProcessedMessage)
_processed_insert = per_dialect(
    lambda insert: (
        insert(_PROCESSED)
        .on_conflict_do_nothing(index_elements=["platform", "chat_id", "message_id"])
        .returning(_PROCESSED.c.id)
    )
)


async def mark_processed(session: AsyncSession, platform: str, chat_id: str, message_id: str) -> bool:
    """Remember a platform message; False if it was already processed (a retried delivery)."""
    conn = await session.connection()
    values = {"platform": platform, "chat_id": chat_id, "message_id": message_id, "processed_at": utcnow()}
    result = await conn.execute(_processed_insert(session), values)
    return result.first() is not None


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
