"""Data access for tasks: creating, completing, cancelling, listing, reminder settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import select as sa_select
from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.core.roles import Level
from tocns.core.text import vi_sorted
from tocns.db.audit import record_audit
from tocns.db.dialect import dialect_of
from tocns.features.activity.models import ActivityRecord
from tocns.features.org.models import ChatBinding, Membership, OrgUnit, Person
from tocns.features.rollups.store import path_range, under_range
from tocns.features.tasks.models import Task, TaskAssignee, TaskReminderSetting, TaskScope, TaskStatus


async def create_task(
    session: AsyncSession,
    *,
    commune: OrgUnit,
    title: str,
    due_date: date,
    scope: TaskScope,
    platform: str,
    chat_id: str,
    creator: Person,
    thread_id: str | None = None,
    people: Iterable[Person] = (),
    teams: Iterable[OrgUnit] = (),
    plan_month: str | None = None,
    now: datetime | None = None,
) -> tuple[Task, list[TaskAssignee]]:
    """Create a task and one assignee row per person or team (created at `now`: reminders never precede it)."""
    task = Task(
        commune_id=commune.id or 0,
        title=title,
        due_date=due_date,
        scope=scope.value,
        plan_month=plan_month,
        platform=platform,
        chat_id=chat_id,
        thread_id=thread_id,
        created_by_person_id=creator.id or 0,
    )
    if now is not None:
        task.created_at = now
    task.next_due_at = task.created_at  # the reminder job looks at it on its next minute and stores the real time
    session.add(task)
    await session.flush()
    rows = [TaskAssignee(task_id=task.id or 0, person_id=p.id) for p in people]
    rows += [TaskAssignee(task_id=task.id or 0, team_id=t.id) for t in teams]
    session.add_all(rows)
    await session.flush()
    await record_audit(
        session, action="create", entity="task", entity_id=task.id, actor_person_id=creator.id, after=task
    )
    return task, rows


async def get_task(session: AsyncSession, task_id: int) -> Task | None:
    """Load a task by id."""
    return await session.get(Task, task_id)


async def assignees_of(session: AsyncSession, task_ids: Iterable[int]) -> dict[int, list[TaskAssignee]]:
    """Assignee rows of several tasks, by task id."""
    ids = list(task_ids)
    out: dict[int, list[TaskAssignee]] = {i: [] for i in ids}
    if not ids:
        return out
    result = await session.exec(
        select(TaskAssignee).where(col(TaskAssignee.task_id).in_(ids)).order_by(col(TaskAssignee.id))
    )
    for row in result.all():
        out[row.task_id].append(row)
    return out


class PendingAssignee(NamedTuple):
    """An assignee of an open task who has not finished it (plain columns: the jobs read thousands a minute)."""

    task_id: int
    person_id: int | None
    team_id: int | None


async def pending_assignees(session: AsyncSession, task_ids: Iterable[int]) -> dict[int, list[PendingAssignee]]:
    """The unfinished assignees of the given open tasks, by task id, in assignment order."""
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    conn = await session.connection()
    result = await conn.execute(
        select(TaskAssignee.task_id, TaskAssignee.person_id, TaskAssignee.team_id)
        .join(Task, col(Task.id) == col(TaskAssignee.task_id))
        .where(
            col(TaskAssignee.task_id).in_(ids),
            Task.status == TaskStatus.OPEN,
            col(TaskAssignee.completed_at).is_(None),
        )
        .order_by(col(TaskAssignee.id))
    )
    out: dict[int, list[PendingAssignee]] = {}
    for task_id, person_id, team_id in result.all():
        out.setdefault(task_id, []).append(PendingAssignee(task_id, person_id, team_id))
    return out


class OpenTask(NamedTuple):
    """What the reminder job needs to know whether anything of an open task is due (no title, no chat)."""

    id: int
    commune_id: int
    due_date: date
    platform: str
    created_at: datetime


async def due_task_deadlines(session: AsyncSession, now: datetime, limit: int) -> list[OpenTask]:
    """Up to `limit` open tasks whose stored next-due time has come (an index range scan), earliest deadline first."""
    conn = await session.connection()
    result = await conn.execute(
        sa_select(col(Task.id), col(Task.commune_id), col(Task.due_date), col(Task.platform), col(Task.created_at))
        .where(col(Task.next_due_at) <= now, col(Task.status) == TaskStatus.OPEN)
        .order_by(col(Task.next_due_at), col(Task.id))
        .limit(limit)
    )
    heads = [
        OpenTask(task_id or 0, commune_id, due, platform, created if created.tzinfo else created.replace(tzinfo=UTC))
        for task_id, commune_id, due, platform, created in result.all()
    ]
    # Sent in deadline order, as the groups read them; the batch itself is the longest-waiting tasks.
    return sorted(heads, key=lambda h: (h.due_date, h.id))


async def store_next_due(session: AsyncSession, moments: dict[int, datetime | None]) -> None:
    """Store each task's next-due time (None: nothing more is due), one UPDATE per distinct time."""
    by_moment: dict[datetime | None, list[int]] = {}
    for task_id, moment in moments.items():
        by_moment.setdefault(moment, []).append(task_id)
    conn = await session.connection()
    for moment, ids in by_moment.items():
        await conn.execute(update(Task).where(col(Task.id).in_(ids)).values(next_due_at=moment))


async def recheck_open_tasks(session: AsyncSession, now: datetime, commune_id: int | None = None) -> None:
    """Make every open task (of one commune) due now: the job recomputes their times after a settings change."""
    query = update(Task).where(col(Task.status) == TaskStatus.OPEN).values(next_due_at=now)
    if commune_id is not None:
        query = query.where(col(Task.commune_id) == commune_id)
    await (await session.connection()).execute(query)


async def tasks_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Task]:
    """Tasks by id."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    result = await session.exec(select(Task).where(col(Task.id).in_(wanted)))
    return {t.id or 0: t for t in result.all()}


async def open_tasks(session: AsyncSession, commune_id: int | None = None) -> list[Task]:
    """Open tasks (of one commune, or of all), earliest deadline first."""
    query = select(Task).where(Task.status == TaskStatus.OPEN)
    if commune_id is not None:
        query = query.where(Task.commune_id == commune_id)
    result = await session.exec(query.order_by(col(Task.due_date), col(Task.id)))
    return list(result.all())


async def month_tasks(session: AsyncSession, commune_id: int, first: date, last: date) -> list[Task]:
    """Non-cancelled tasks of a commune due within [first, last]."""
    result = await session.exec(
        select(Task)
        .where(
            Task.commune_id == commune_id,
            Task.status == TaskStatus.OPEN,
            col(Task.due_date) >= first,
            col(Task.due_date) <= last,
        )
        .order_by(col(Task.due_date), col(Task.id))
    )
    return list(result.all())


async def complete(
    session: AsyncSession, assignee: TaskAssignee, person: Person, result_text: str | None, now: datetime
) -> None:
    """Mark one assignee (a person or a team) as done."""
    before = assignee.model_copy()
    assignee.completed_at = now
    assignee.completed_by_person_id = person.id
    assignee.result = result_text or None
    session.add(assignee)
    await session.flush()
    await record_audit(
        session,
        action="complete",
        entity="task_assignee",
        entity_id=assignee.id,
        actor_person_id=person.id,
        before=before,
        after=assignee,
    )


async def cancel(session: AsyncSession, task: Task, person: Person, now: datetime) -> None:
    """Cancel a task: it leaves every list and gets no more reminders."""
    before = task.model_copy()
    task.status = TaskStatus.CANCELLED
    task.cancelled_at = now
    task.cancelled_by_person_id = person.id
    task.next_due_at = None
    session.add(task)
    await session.flush()
    await record_audit(
        session, action="cancel", entity="task", entity_id=task.id, actor_person_id=person.id, before=before, after=task
    )


async def people_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Person]:
    """People by id."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    result = await session.exec(select(Person).where(col(Person.id).in_(wanted)))
    return {p.id or 0: p for p in result.all()}


async def units_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, OrgUnit]:
    """Org units by id."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    result = await session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(wanted)))
    return {u.id or 0: u for u in result.all()}


async def get_reminder_setting(session: AsyncSession, commune_id: int) -> TaskReminderSetting | None:
    """A commune's own reminder settings, if it set any."""
    result = await session.exec(select(TaskReminderSetting).where(TaskReminderSetting.commune_id == commune_id))
    return result.first()


async def reminder_settings(session: AsyncSession, commune_ids: Iterable[int]) -> dict[int, TaskReminderSetting]:
    """The reminder settings of several communes (those that set any), by commune id."""
    wanted = list(set(commune_ids))
    if not wanted:
        return {}
    result = await session.exec(select(TaskReminderSetting).where(col(TaskReminderSetting.commune_id).in_(wanted)))
    return {row.commune_id: row for row in result.all()}


async def people_with_role(session: AsyncSession, unit_ids: Iterable[int], role: str) -> dict[int, list[Person]]:
    """The people holding `role` directly on each of these units, by display name ."""
    wanted = list(set(unit_ids))
    out: dict[int, list[Person]] = {i: [] for i in wanted}
    if not wanted:
        return out
    result = await session.exec(
        select(Person, Membership.org_unit_id)
        .join(Membership, col(Membership.person_id) == col(Person.id))
        .where(col(Membership.org_unit_id).in_(wanted), Membership.role == role)
        .order_by(col(Person.display_name), col(Membership.id))
    )
    for person, unit_id in result.all():
        out[unit_id].append(person)
    # Sorted per unit, not all at once: a unit has one or two such people, and a Vietnamese sort key costs tens of
    # µs (a busy Monday's 500-task batch sorted ~1,000 leaders on the event loop, bench/RESULTS.md).
    for unit_id, people in out.items():
        if len(people) > 1:
            out[unit_id] = vi_sorted(people, key=lambda person: person.display_name)
    return out


async def set_reminder_setting(
    session: AsyncSession,
    commune_id: int,
    *,
    lead_days: list[int],
    escalate_after_days: int,
    actor: Person,
    now: datetime,
) -> TaskReminderSetting:
    """Create or update a commune's reminder settings."""
    row = await get_reminder_setting(session, commune_id)
    before = row.model_copy() if row else None
    if row is None:
        row = TaskReminderSetting(commune_id=commune_id, lead_days="", escalate_after_days=0)
    row.lead_days = ",".join(str(d) for d in lead_days)
    row.escalate_after_days = escalate_after_days
    row.updated_at = now
    session.add(row)
    await session.flush()
    await recheck_open_tasks(session, now, commune_id)  # their reminder days follow the new lead times
    await record_audit(
        session,
        action="set",
        entity="task_reminder_setting",
        entity_id=row.id,
        actor_person_id=actor.id,
        before=before,
        after=row,
    )
    return row


async def teams_reported_between(session: AsyncSession, first: date, last: date) -> set[int]:
    """Every unit with at least one non-deleted activity record dated within [first, last]."""
    result = await session.exec(
        select(ActivityRecord.org_unit_id)
        .where(
            col(ActivityRecord.deleted_at).is_(None),
            col(ActivityRecord.activity_date) >= first,
            col(ActivityRecord.activity_date) <= last,
        )
        .distinct()
    )
    return set(result.all())


async def active_teams(session: AsyncSession) -> list[OrgUnit]:
    """Every active team, ordered by code (callers group them under their communes by path)."""
    result = await session.exec(
        select(OrgUnit).where(OrgUnit.level == Level.TEAM, OrgUnit.active == True).order_by(col(OrgUnit.code))  # noqa: E712
    )
    return list(result.all())


async def commune_bindings(session: AsyncSession) -> list[tuple[ChatBinding, OrgUnit]]:
    """Active chats bound directly to a commune, with the commune."""
    result = await session.exec(
        select(ChatBinding, OrgUnit)
        .join(OrgUnit, col(OrgUnit.id) == col(ChatBinding.org_unit_id))
        .where(ChatBinding.active == True, OrgUnit.level == Level.COMMUNE, OrgUnit.active == True)  # noqa: E712
        .order_by(col(ChatBinding.id))
    )
    return [(b, u) for b, u in result.all()]


@dataclass
class TaskProgress:
    """One open task due in a period: how many of its assignments are done, and who has not finished."""

    id: int
    title: str
    due_date: date
    done: int = 0
    total: int = 0
    pending: list[str] = field(default_factory=list)

    def overdue(self, today: date) -> bool:
        """Past its deadline with someone not finished."""
        return self.due_date < today and self.done < self.total


def task_rows_sql(dialect: str, unit: OrgUnit, with_commune: bool = False) -> str:
    """SELECT of the assignments of open tasks due in [:start, :end] under `unit`, unordered (see fold_task_rows).

    A team unit counts only that team's assignments; any other unit every task of the communes in its subtree.
    Columns: task id, title, deadline as ISO text, done (0/1), team name, person name, assignment id, and with
    `with_commune` the task's commune id (to split a province's rows per commune). Plain SQL so a report can read
    it in the same statement as its figures (one round trip). Binds :unit_id and, above a team, the subtree's range
    (rollups' path_range of the unit's path): one text for every unit of a kind.
    """
    scope = "a.team_id = :unit_id" if unit.level == Level.TEAM else under_range(dialect, "c.path")
    commune = ", k.commune_id AS commune_id" if with_commune else ""
    return (
        "SELECT k.id AS task_id, k.title, CAST(k.due_date AS TEXT) AS due, "
        "CASE WHEN a.completed_at IS NULL THEN 0 ELSE 1 END AS done, tm.name AS team_name, "
        f"pe.display_name AS person_name, a.id AS assignee_id{commune} FROM task_assignee a "
        "JOIN task k ON k.id = a.task_id JOIN org_unit c ON c.id = k.commune_id "
        "LEFT JOIN org_unit tm ON tm.id = a.team_id LEFT JOIN person pe ON pe.id = a.person_id "
        f"WHERE k.status = '{TaskStatus.OPEN}' AND k.due_date BETWEEN :start AND :end AND {scope}"
    )


def fold_task_rows(rows: Iterable[tuple[Any, ...]]) -> list[TaskProgress]:
    """Tasks from task_rows_sql's rows, ordered by deadline (then id), each assignment counted in order."""
    out: dict[int, TaskProgress] = {}
    for task_id, title, due, done, team_name, person_name, _assignee in sorted(
        rows, key=lambda r: (str(r[2])[:10], r[0], r[6])
    ):
        progress = out.get(task_id)
        if progress is None:
            progress = out[task_id] = TaskProgress(task_id, title, date.fromisoformat(str(due)[:10]))
        progress.total += 1
        if done:
            progress.done += 1
        else:
            progress.pending.append(team_name or person_name or "?")
    return list(out.values())


async def task_progress(session: AsyncSession, unit: OrgUnit, first: date, last: date) -> list[TaskProgress]:
    """Open tasks due in [first, last] under `unit`, each with its assignments done/total and who is pending.

    A team unit counts only that team's assignments; any other unit every task of the communes in its subtree.
    One query; tasks ordered by deadline.
    """
    dialect = dialect_of(session)
    dates = {"start": first, "end": last}
    params: dict[str, Any] = {k: v.isoformat() if dialect == "sqlite" else v for k, v in dates.items()}
    params["unit_id"] = unit.id
    params.update(path_range(unit.path))
    conn = await session.connection()
    return fold_task_rows((await conn.execute(text(task_rows_sql(dialect, unit)), params)).all())
