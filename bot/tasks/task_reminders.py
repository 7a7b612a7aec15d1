"""Task reminders: before the deadline, on the day, daily while overdue, and one escalation to the leaders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.deadlines import fmt_date, in_quiet_hours, next_working_day, weekday_name
from bot.handlers.tasks import due_status, mention
from bot.tasks import job
from storage import org as org_store
from storage import outbox
from storage import tasks as task_store
from storage.models import OrgUnit, Role
from storage.task_models import Task, TaskAssignee

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import BotApp


@dataclass(frozen=True)
class Slot:
    """One reminder day: its kind (before3, due, overdue...) and the day it is sent after holiday shifts."""

    kind: str
    day: date


def reminder_slots(due: date, lead_days: list[int], today: date) -> list[Slot]:
    """Every reminder day up to `today`, moved off public holidays; one per day, the nearest kind wins."""
    nominal = [(due - timedelta(days=d), "due" if d == 0 else f"before{d}") for d in sorted(lead_days, reverse=True)]
    day = due + timedelta(days=1)
    while day <= today:
        nominal.append((day, "overdue"))
        day += timedelta(days=1)
    by_day: dict[date, Slot] = {}
    for when, kind in nominal:
        shifted = next_working_day(when)
        # Later nominal days overwrite earlier ones: after a long holiday only the freshest reminder goes.
        by_day[shifted] = Slot(kind=kind, day=shifted)
    return sorted(by_day.values(), key=lambda s: s.day)


def current_slot(slots: list[Slot], local_now: datetime, hour: int) -> Slot | None:
    """The slot to send at `local_now`: the latest one already due, unless a newer one is due later today."""
    today = local_now.date()
    due = [s for s in slots if datetime.combine(s.day, time(hour), local_now.tzinfo) <= local_now]
    if not due:
        return None
    latest = due[-1]
    if latest.day < today and any(s.day == today for s in slots):
        return None
    return latest


def escalation_day(due: date, escalate_after: int) -> date:
    """The day the commune leaders hear about an overdue task (moved off public holidays)."""
    return next_working_day(due + timedelta(days=escalate_after))


async def _settings_for(session: AsyncSession, app: BotApp, commune_id: int) -> tuple[list[int], int]:
    row = await task_store.get_reminder_setting(session, commune_id)
    if row is None:
        return app.settings.default_lead_days, app.settings.task_escalate_after_days
    return [int(p) for p in row.lead_days.split(",") if p], row.escalate_after_days


async def _pending_labels(session: AsyncSession, pending: list[TaskAssignee]) -> list[str]:
    people = await task_store.people_by_ids(session, [r.person_id for r in pending if r.person_id])
    units = await task_store.units_by_ids(session, [r.team_id for r in pending if r.team_id])
    labels = []
    for row in pending:
        if row.person_id and row.person_id in people:
            labels.append(mention(people[row.person_id]))
        elif row.team_id and row.team_id in units:
            team: OrgUnit = units[row.team_id]
            leaders = [mention(p) for p, _m in await org_store.members_of(session, team, Role.TEAM_LEADER)]
            labels.append(f"{team.name} ({', '.join(leaders)})" if leaders else team.name)
    return labels


def _reminder_text(task: Task, today: date, labels: list[str]) -> str:
    return (
        f"⏰ Nhắc việc #{task.id}: {task.title}\n"
        f"Hạn: {weekday_name(task.due_date)}, {fmt_date(task.due_date)} ({due_status(task.due_date, today)})\n"
        f"Chưa xong: {', '.join(labels)}\n"
        f"Khi xong, gõ /xong {task.id} [kết quả]."
    )


async def _escalate(
    session: AsyncSession, task: Task, commune: OrgUnit, labels: list[str], today: date, now: datetime
) -> list[str]:
    leaders = [p for p, _m in await org_store.members_of(session, commune, Role.COMMUNE_LEADER)]
    text = (
        f"⚠️ Việc #{task.id} của {commune.name} đã {due_status(task.due_date, today)}: {task.title}\n"
        f"Hạn: {fmt_date(task.due_date)}. Chưa xong: {', '.join(labels)}."
    )
    sent: list[str] = []
    private = [p for p in leaders if p.private_chat_id and p.platform == task.platform]
    for person in private:
        row = await outbox.enqueue(
            session,
            platform=task.platform,
            chat_id=person.private_chat_id or "",
            text=text,
            kind="escalation",
            dedupe_key=f"task-escalation:{task.id}:{person.id}",
            now=now,
        )
        if row is not None:
            sent.append(f"báo lãnh đạo việc #{task.id} → {person.display_name} ({task.platform}:{row.chat_id})")
    if not private:
        names = ", ".join(mention(p) for p in leaders)
        row = await outbox.enqueue(
            session,
            platform=task.platform,
            chat_id=task.chat_id,
            text=f"{names}\n{text}" if names else text,
            kind="escalation",
            dedupe_key=f"task-escalation:{task.id}:chat",
            now=now,
        )
        if row is not None:
            sent.append(f"báo lãnh đạo việc #{task.id} → {task.platform}:{task.chat_id}")
    return sent


@job("task_reminders")
async def run(app: BotApp, now: datetime) -> list[str]:
    """Enqueue every task reminder and escalation due at `now` that has not been enqueued yet."""
    local_now = now.astimezone(app.settings.tz)
    if in_quiet_hours(local_now, app.settings.quiet_hours_start, app.settings.quiet_hours_end):
        return []
    today = local_now.date()
    hour = app.settings.task_reminder_hour
    sent: list[str] = []
    async with app.db.session() as session:
        tasks = await task_store.open_tasks(session)
        rows_by_task = await task_store.assignees_of(session, [t.id or 0 for t in tasks])
        communes = await task_store.units_by_ids(session, [t.commune_id for t in tasks])
        for task in tasks:
            pending = [r for r in rows_by_task[task.id or 0] if r.completed_at is None]
            if not pending or task.commune_id not in communes:
                continue
            lead_days, escalate_after = await _settings_for(session, app, task.commune_id)
            slot = current_slot(reminder_slots(task.due_date, lead_days, today), local_now, hour)
            labels: list[str] | None = None
            if slot is not None:
                labels = await _pending_labels(session, pending)
                row = await outbox.enqueue(
                    session,
                    platform=task.platform,
                    chat_id=task.chat_id,
                    text=_reminder_text(task, today, labels),
                    kind="reminder",
                    dedupe_key=f"task-reminder:{task.id}:{slot.kind}:{slot.day.isoformat()}",
                    now=now,
                )
                if row is not None:
                    sent.append(f"nhắc việc #{task.id} ({slot.kind}) → {task.platform}:{task.chat_id}")
            escalate_at = datetime.combine(escalation_day(task.due_date, escalate_after), time(hour), local_now.tzinfo)
            if escalate_at <= local_now:
                labels = labels if labels is not None else await _pending_labels(session, pending)
                sent += await _escalate(session, task, communes[task.commune_id], labels, today, now)
    return sent
