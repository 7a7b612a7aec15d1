"""One entry point for every consumer (chat, jobs, CLI, API): the report of a unit for a period."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.features.org.models import OrgUnit
from tocns.features.reports.period import Period
from tocns.features.reports.store import Report, TaskFigures, build_report
from tocns.features.tasks.store import task_figures


async def unit_report(
    session: AsyncSession, unit: OrgUnit, period: Period, settings: Settings, now: datetime
) -> Report:
    """The report of `unit` for `period`, compared with the previous period of the same kind."""
    previous = period.previous()
    offset = now.astimezone(settings.tz).utcoffset()
    report = await build_report(
        session,
        unit,
        period.start,
        period.end,
        previous.start,
        previous.end,
        now,
        tz_name=settings.timezone,
        utc_offset_hours=offset.total_seconds() / 3600 if offset else 0.0,
    )
    today = now.astimezone(settings.tz).date()
    due, done, overdue = await task_figures(session, unit, period.start, period.end, today)
    report.tasks = TaskFigures(due=due, done=done, overdue=overdue)
    return report
