"""Enqueueing outgoing messages (the sender that drains the outbox lives in bot/)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import utcnow
from storage.outbox_models import OutboxMessage, OutboxState


async def enqueue(
    session: AsyncSession,
    *,
    platform: str,
    chat_id: str,
    text: str,
    kind: str = "reply",
    dedupe_key: str | None = None,
    attachments: Sequence[dict[str, str]] | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add a message to the outbox in the caller's transaction; None if `dedupe_key` was already used."""
    now = now or utcnow()
    row = OutboxMessage(
        platform=platform,
        chat_id=chat_id,
        text=text,
        kind=kind,
        dedupe_key=dedupe_key,
        attachments=json.dumps(list(attachments), ensure_ascii=False) if attachments else None,
        next_attempt_at=now,
        created_at=now,
    )
    if dedupe_key is None:
        session.add(row)
        await session.flush()
        return row
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


async def pending(session: AsyncSession, limit: int = 100) -> list[OutboxMessage]:
    """Messages waiting to be sent, oldest first."""
    result = await session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.state == OutboxState.PENDING)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    return list(result.all())
