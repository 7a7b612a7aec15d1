"""Storing inbound updates before processing them, and marking them processed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.inbound_models import InboundState, InboundUpdate
from storage.models import utcnow
from storage.outbox_models import OutboxMessage, OutboxState


async def store_update(
    session: AsyncSession, platform: str, update_key: str, body: dict[str, Any], now: datetime | None = None
) -> InboundUpdate | None:
    """Store an update; None when the same (platform, key) was already stored (a redelivery)."""
    row = InboundUpdate(
        platform=platform,
        update_key=update_key[:200],
        body=json.dumps(body, ensure_ascii=False),
        received_at=now or utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


async def get_update(session: AsyncSession, update_id: int) -> InboundUpdate | None:
    """One stored update by its row id."""
    return await session.get(InboundUpdate, update_id)


async def finish_update(session: AsyncSession, update_id: int, error: str | None = None) -> None:
    """Mark a stored update done, or failed with the error's first line."""
    row = await session.get(InboundUpdate, update_id)
    if row is None:
        return
    row.state = InboundState.FAILED if error else InboundState.DONE
    row.error = error[:500] if error else None
    row.processed_at = utcnow()
    session.add(row)


async def pending_updates(session: AsyncSession, limit: int = 100) -> list[InboundUpdate]:
    """Updates stored but never processed (the process stopped in between), oldest first."""
    result = await session.exec(
        select(InboundUpdate)
        .where(InboundUpdate.state == InboundState.PENDING)
        .order_by(col(InboundUpdate.id))
        .limit(limit)
    )
    return list(result.all())


async def outbox_depth(session: AsyncSession) -> int:
    """How many outbox messages wait to be sent."""
    result = await session.exec(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)
    )
    return int(result.one())
