"""One entry point for every consumer (chat, jobs, CLI, API): the report of a unit for a period."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.dates import fmt_date
from tocns.core.period import Period
from tocns.features.org.models import OrgUnit
from tocns.features.reports.store import Report, TaskFigures, build_report
from tocns.features.targets.service import unit_progress


async def unit_report(
    session: AsyncSession,
    unit: OrgUnit,
    period: Period,
    settings: Settings,
    now: datetime,
    team_rows: bool = True,
) -> Report:
    """The report of `unit` for `period`, compared with the previous period of the same kind.

    `team_rows=False` leaves out every team's figures (the workbook's "Theo tổ" sheet): a text, a chart or a page
    that shows no such sheet reads only the sums per child unit.
    """
    previous = period.previous()
    today = now.astimezone(settings.tz).date()
    # Progress as of the period's last day, or today while the period is running: one computation for every output.
    as_of = min(period.end, today)
    dates = (period.start, period.end, previous.start, previous.end)
    # Figures, tasks and whether any target applies in one statement; progress only where a target is set.
    report, tasks, has_targets = await build_report(
        session, unit, dates, now, team_rows=team_rows, targets_year=as_of.year
    )
    late = [t for t in tasks if t.overdue(today)]
    report.tasks = TaskFigures(
        due=len(tasks),
        done=sum(1 for t in tasks if t.total and t.done == t.total),
        overdue=len(late),
        progress=[(t.id, t.title, t.done, t.total) for t in tasks],
        overdue_tasks=[(t.id, t.title, fmt_date(t.due_date), t.pending) for t in late],
    )
    if has_targets:
        progress = await unit_progress(session, unit, as_of)
        report.progress = progress if progress.rows else None
    return report
