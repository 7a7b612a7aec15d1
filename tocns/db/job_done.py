"""Which scheduled job has finished which period: a minute inside a job's window reads one row, not every unit.

A scheduled message's due moment is a pure function of the clock, the settings and the holiday rule
(`core/schedule.py`), so knowing whether a job is due needs no read at all; what needs storing is whether this
period's run already went through. The row is written once a run has enqueued everything of its period (the outbox's
dedupe keys still make a half-finished run safe to repeat). Decisions in docs/decisions.md ("Idle ticks").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.db.upsert import per_dialect, table_of

WHOLE_JOB = 0
"""The scope of a job that runs for every unit at once (a directive's reminders use the directive's id)."""


class JobDone(SQLModel, table=True):
    """One job's last finished period for one scope (the whole job, or one directive)."""

    __tablename__ = "job_done"

    job: str = Field(primary_key=True, max_length=40)
    scope: int = Field(default=WHOLE_JOB, primary_key=True)
    period: str = Field(max_length=40)
    done_at: datetime


async def finished(session: AsyncSession, job: str, period: str, scope: int = WHOLE_JOB) -> bool:
    """Whether `job` has finished `period` for `scope` (one primary-key lookup)."""
    query = select(JobDone.period).where(col(JobDone.job) == job, col(JobDone.scope) == scope)
    return (await session.exec(query)).first() == period


async def finished_scopes(session: AsyncSession, job: str, period: str, scopes: Iterable[int]) -> set[int]:
    """Which of `scopes` have finished `period` of `job` (one query on the primary key's range)."""
    wanted = sorted(set(scopes))
    if not wanted:
        return set()
    query = select(JobDone.scope).where(
        col(JobDone.job) == job, col(JobDone.scope).in_(wanted), col(JobDone.period) == period
    )
    return set((await session.exec(query)).all())


def _build_upsert(insert: Any) -> Any:
    stmt = insert(table_of(JobDone))
    return stmt.on_conflict_do_update(
        index_elements=["job", "scope"], set_={"period": stmt.excluded.period, "done_at": stmt.excluded.done_at}
    )


_upsert = per_dialect(_build_upsert)


async def mark_finished(
    session: AsyncSession, job: str, period: str, now: datetime, scopes: Iterable[int] = (WHOLE_JOB,)
) -> None:
    """Record that `job` finished `period` for each of `scopes` at `now` (an upsert: the row is the latest)."""
    rows = [{"job": job, "scope": scope, "period": period, "done_at": now} for scope in scopes]
    if rows:
        await session.exec(_upsert(session), params=rows)  # type: ignore[call-overload]
