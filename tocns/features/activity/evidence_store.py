"""Data access for photo evidence: the photos of `/ghi` records waiting to be fetched, kept, or given up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.features.activity.models import ActivityRecord, PhotoEvidence

KEPT_PREFIX = "files:"
"""How a record's photo reads once the picture is kept: "files:<path under FILES_DIR>"."""


async def add(session: AsyncSession, record_id: int, platform: str, source: str, now: datetime) -> PhotoEvidence:
    """Queue the photo of a new record for fetching at once, in the record's transaction."""
    row = PhotoEvidence(record_id=record_id, platform=platform, source=source, next_attempt_at=now, created_at=now)
    session.add(row)
    await session.flush()
    return row


async def due(session: AsyncSession, now: datetime, limit: int) -> list[PhotoEvidence]:
    """Pending photos whose next attempt is due, oldest first."""
    query = (
        select(PhotoEvidence)
        .where(PhotoEvidence.state == "pending", col(PhotoEvidence.next_attempt_at) <= now)
        .order_by(col(PhotoEvidence.next_attempt_at), col(PhotoEvidence.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def mark_kept(session: AsyncSession, evidence_id: int, record_id: int, relative: str) -> bool:
    """Record that the photo is kept at `relative` (under FILES_DIR); False when another run kept it first."""
    moved = await session.exec(  # type: ignore[call-overload]
        update(PhotoEvidence)
        .where(col(PhotoEvidence.id) == evidence_id, col(PhotoEvidence.state) == "pending")
        .values(state="kept", error=None)
    )
    if not moved.rowcount:
        return False
    await session.exec(  # type: ignore[call-overload]
        update(ActivityRecord).where(col(ActivityRecord.id) == record_id).values(photo=f"{KEPT_PREFIX}{relative}")
    )
    return True


async def mark_failed(
    session: AsyncSession, evidence_id: int, error: str, retry_at: datetime | None
) -> PhotoEvidence | None:
    """Count a failed attempt: retried at `retry_at`, or given up when it is None; the row, or None when another run
    settled it first."""
    row = await session.get(PhotoEvidence, evidence_id)
    if row is None or row.state != "pending":
        return None
    row.attempts += 1
    row.error = error[:500]
    if retry_at is None:
        row.state = "failed"
    else:
        row.next_attempt_at = retry_at
    session.add(row)
    return row


async def record_place(session: AsyncSession, record_id: int) -> tuple[str, str, str | None] | None:
    """(platform, chat id, message id) of the record a photo belongs to."""
    record = await session.get(ActivityRecord, record_id)
    return (record.platform, record.chat_id, record.message_id) if record is not None else None
