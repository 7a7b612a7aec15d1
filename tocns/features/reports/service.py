"""One entry point for every consumer (chat, jobs, CLI, API): the report of a unit for a period."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.dates import fmt_date
from tocns.core.period import Period
from tocns.features.org.models import OrgUnit
from tocns.features.reports.store import Report, TaskFigures, build_child_reports, build_report
from tocns.features.targets.service import unit_progress
from tocns.features.tasks.store import TaskProgress


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
    return await _with_tasks_and_progress(session, unit, report, tasks, has_targets, as_of, today)


async def _with_tasks_and_progress(
    session: AsyncSession,
    unit: OrgUnit,
    report: Report,
    tasks: list[TaskProgress],
    has_targets: bool,
    as_of: date,
    today: date,
) -> Report:
    """The report with its task figures, and its progress towards targets where any is set (read only then)."""
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


async def child_reports(
    session: AsyncSession,
    parent: OrgUnit,
    children: list[OrgUnit],
    period: Period,
    settings: Settings,
    now: datetime,
) -> dict[int, Report]:
    """The text reports (no team rows) of `children`, units directly under `parent`, by id: as `unit_report` gives
    each, read with the parent's statements (a province's communes in three, not three per commune).

    A child whose teams are not all directly under it is read alone; progress is read only for a child with a
    target, as `unit_report` does.
    """
    previous = period.previous()
    today = now.astimezone(settings.tz).date()
    as_of = min(period.end, today)
    dates = (period.start, period.end, previous.start, previous.end)
    read = await build_child_reports(session, parent, children, dates, now, as_of.year)
    out: dict[int, Report] = {}
    for child in children:
        got = read.get(child.id or 0)
        if got is None:
            out[child.id or 0] = await unit_report(session, child, period, settings, now, team_rows=False)
        else:
            out[child.id or 0] = await _with_tasks_and_progress(
                session, child, got.report, got.tasks, got.has_targets, as_of, today
            )
    return out
