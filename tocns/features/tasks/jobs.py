"""Task reminders: before the deadline, on the day, on a fading cadence while overdue, one escalation to leaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from tocns.core.dates import (
    fmt_date,
    in_quiet_hours,
    is_day_off,
    previous_working_day,
    weekday_name,
)
from tocns.core.messages import Button
from tocns.core.roles import Role
from tocns.core.schedule import holiday_moved
from tocns.core.text import one_line
from tocns.features.org.models import OrgUnit, Person
from tocns.features.org.reach import Chat, Reach, load_reach
from tocns.features.tasks import store as task_store
from tocns.features.tasks.models import Task, TaskReminderSetting
from tocns.features.tasks.render import due_status, mention
from tocns.features.tasks.store import OpenTask, PendingAssignee
from tocns.outbox import store as outbox

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.app import BotApp


# Holidays are fixed per date: memoised, thousands of tasks a minute share the same few dozen days.
@lru_cache(maxsize=4096)
def _working_day(day: date) -> date:
    """Where an informative message of `day` goes under the holiday rule (docs/holidays.md)."""
    return holiday_moved(day, "info") or day

_is_day_off = lru_cache(maxsize=4096)(is_day_off)

OVERDUE_DAYS = (1, 3, 7, 14, 21, 28)
"""Days after the deadline an overdue reminder goes to the group; after four weeks only the digest names it."""


@dataclass(frozen=True)
class Slot:
    """One reminder day: its kind (before3, due, overdue...) and the day it is sent after holiday shifts."""

    kind: str
    day: date


def reminder_slots(
    due: date,
    lead_days: list[int],
    today: date,
    created: date | None = None,
    is_off: Callable[[date], bool] = _is_day_off,
) -> list[Slot]:
    """Every reminder day up to `today`; one per day, the nearest kind wins.

    An advance reminder on a day off moves to the previous working day, never before the task was created
    (then it stays on its own day, or the creation day): moving it later could push it past the deadline.
    The deadline day's reminder moves off a public holiday to the working day before. Overdue reminders follow
    OVERDUE_DAYS, moved off public holidays to the next working day, and stop after four weeks.
    """
    created = created or date.min
    by_day: dict[date, Slot] = {}
    for lead in sorted({d for d in lead_days if d > 0}, reverse=True):
        nominal = due - timedelta(days=lead)
        day = previous_working_day(nominal, is_off)
        if day < created:
            day = max(nominal, created)
        if day > today or day > due:
            continue
        # Nearer kinds come later and win a shared day.
        by_day[day] = Slot(kind=f"before{lead}", day=day)
    if 0 in lead_days:
        # A deadline on a public holiday is reminded on the last working day before it (it asks for action), not
        # on the holiday itself (docs/holidays.md); the reminder's text names the deadline's own date.
        day = holiday_moved(due, "action", not_before=created) or due
        if day <= today:
            by_day[day] = Slot(kind="due", day=day)
    for after in OVERDUE_DAYS:
        day = _working_day(due + timedelta(days=after))
        if day <= today:
            # After a long holiday only the freshest overdue reminder goes.
            by_day[day] = Slot(kind="overdue", day=day)
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
    return _working_day(due + timedelta(days=escalate_after))


def _settings_from(app: BotApp, row: TaskReminderSetting | None) -> tuple[list[int], int]:
    if row is None:
        return app.settings.default_lead_days, app.settings.task_escalate_after_days
    return [int(p) for p in row.lead_days.split(",") if p], row.escalate_after_days


async def _labels_by_task(
    session: AsyncSession, pending_by_task: dict[int, list[PendingAssignee]]
) -> dict[int, list[str]]:
    """The "Chưa xong" labels of several tasks, with three queries in all rather than some per task."""
    rows = [r for pending in pending_by_task.values() for r in pending]
    people = await task_store.people_by_ids(session, [r.person_id for r in rows if r.person_id])
    units = await task_store.units_by_ids(session, [r.team_id for r in rows if r.team_id])
    leaders = await task_store.people_with_role(session, list(units), Role.TEAM_LEADER.value)
    out: dict[int, list[str]] = {}
    for task_id, pending in pending_by_task.items():
        labels = []
        for row in pending:
            if row.person_id and row.person_id in people:
                labels.append(mention(people[row.person_id]))
            elif row.team_id and row.team_id in units:
                team: OrgUnit = units[row.team_id]
                names = [mention(p) for p in leaders.get(row.team_id, [])]
                labels.append(f"{team.name} ({', '.join(names)})" if names else team.name)
        out[task_id] = labels
    return out


def _reminder_text(task: Task, today: date, labels: list[str]) -> str:
    return (
        f"⏰ Nhắc việc #{task.id}: {one_line(task.title)}\n"
        f"Hạn: {weekday_name(task.due_date)}, {fmt_date(task.due_date)} ({due_status(task.due_date, today)})\n"
        f"Chưa xong: {', '.join(labels)}\n"
        f"Khi xong, gõ /xong {task.id} [kết quả]."
    )


@dataclass
class _Due:
    """One open task with something possibly due now: its reminder slot and its escalation recipients."""

    task: OpenTask
    pending: list[PendingAssignee]
    slot: Slot | None
    # (dedupe key, private chat id or None for the task's own group, the leader) per escalation message.
    escalations: list[tuple[str, Person | None]]
    leaders: list[Person]

    @property
    def reminder_key(self) -> str | None:
        """The dedupe key of the reminder due now, if any."""
        if self.slot is None:
            return None
        return f"task-reminder:{self.task.id}:{self.slot.kind}:{self.slot.day.isoformat()}"


def _reminder_chats(
    reach: Reach, task: Task, commune: OrgUnit, pending: list[PendingAssignee], people: dict[int, Person]
) -> list[Chat]:
    """Where a task's reminder goes: the group it was posted in (or, posted privately, the commune's groups on
    that platform), and privately each unfinished person, or member of an unfinished team, on a platform where
    the commune has no group (docs/private-chats.md)."""
    groups = reach.groups_of(commune)
    own = [b for b in groups if b.platform == task.platform and b.chat_id == task.chat_id]
    chosen = own or [b for b in groups if b.platform == task.platform]
    chats = [Chat(b.platform, b.chat_id, b.org_unit_id) for b in chosen]
    platforms = {b.platform for b in groups}
    seen: set[int] = set()
    for row in pending:
        person = people.get(row.person_id or 0)
        if person is not None and person.private_chat_id and person.platform not in platforms:
            seen.add(person.id or 0)
            chats.append(Chat(person.platform, person.private_chat_id, commune.id or 0, person))
    teams = [r.team_id for r in pending if r.team_id]
    chats += [c for c in reach.people_of(teams, platforms) if c.person is not None and c.person.id not in seen]
    return chats


def _escalation_open(due: _Due, used: set[str]) -> bool:
    return any(key not in used for key, _p in due.escalations)


def _escalation_targets(task: OpenTask, leaders: list[Person]) -> list[tuple[str, Person | None]]:
    private = [p for p in leaders if p.private_chat_id and p.platform == task.platform]
    if private:
        return [(f"task-escalation:{task.id}:{p.id}", p) for p in private]
    return [(f"task-escalation:{task.id}:chat", None)]


async def _escalate(
    session: AsyncSession,
    due: _Due,
    task: Task,
    commune: OrgUnit,
    labels: list[str],
    used: set[str],
    today: date,
    now: datetime,
) -> list[str]:
    text = (
        f"⚠️ Việc #{task.id} của {commune.name} đã {due_status(task.due_date, today)}: {one_line(task.title)}\n"
        f"Hạn: {fmt_date(task.due_date)}. Chưa xong: {', '.join(labels)}."
    )
    sent: list[str] = []
    for key, person in due.escalations:
        if key in used:
            continue
        if person is not None:
            row = await outbox.enqueue(
                session,
                platform=task.platform,
                chat_id=person.private_chat_id or "",
                text=text,
                kind="escalation",
                dedupe_key=key,
                now=now,
            )
            if row is not None:
                sent.append(f"báo lãnh đạo việc #{task.id} → {person.display_name} ({task.platform}:{row.chat_id})")
            continue
        names = ", ".join(mention(p) for p in due.leaders)
        row = await outbox.enqueue(
            session,
            platform=task.platform,
            chat_id=task.chat_id,
            text=f"{names}\n{text}" if names else text,
            kind="escalation",
            dedupe_key=key,
            now=now,
            thread_id=task.thread_id,
        )
        if row is not None:
            sent.append(f"báo lãnh đạo việc #{task.id} → {task.platform}:{task.chat_id}")
    return sent


async def task_reminders(app: BotApp, now: datetime) -> list[str]:
    """Enqueue every task reminder and escalation due at `now` that has not been enqueued yet."""
    local_now = now.astimezone(app.settings.tz)
    if in_quiet_hours(local_now, app.settings.quiet_hours_start, app.settings.quiet_hours_end):
        return []
    today = local_now.date()
    hour = app.settings.task_reminder_hour
    sent: list[str] = []
    async with app.db.session() as session:
        # Plain columns first: titles, chats and commune names are loaded only for what is actually sent.
        tasks = await task_store.open_task_deadlines(session)
        pending_by_task = await task_store.pending_assignees(session)
        settings_rows = await task_store.reminder_settings(session, {t.commune_id for t in tasks})
        candidates: list[tuple[OpenTask, list[PendingAssignee], Slot | None, bool]] = []
        plans: dict[tuple[date, tuple[int, ...], int, date], tuple[Slot | None, bool]] = {}
        for head in tasks:
            pending = pending_by_task.get(head.id, [])
            if not pending:
                continue
            lead_days, escalate_after = _settings_from(app, settings_rows.get(head.commune_id))
            # Tasks share a handful of deadlines and settings: each combination is worked out once per run.
            created = head.created_at.astimezone(app.settings.tz).date()
            plan_key = (head.due_date, tuple(lead_days), escalate_after, created)
            plan = plans.get(plan_key)
            if plan is None:
                slot = current_slot(reminder_slots(head.due_date, lead_days, today, created), local_now, hour)
                day = escalation_day(head.due_date, escalate_after)
                plan = plans[plan_key] = (slot, datetime.combine(day, time(hour), local_now.tzinfo) <= local_now)
            slot, escalate = plan
            if slot is not None or escalate:
                candidates.append((head, pending, slot, escalate))
        leaders = await task_store.people_with_role(
            session, {t.commune_id for t, _p, _s, esc in candidates if esc}, Role.COMMUNE_LEADER.value
        )
        dues = []
        for head, pending, slot, esc in candidates:
            chiefs = leaders.get(head.commune_id, []) if esc else []
            dues.append(_Due(head, pending, slot, _escalation_targets(head, chiefs) if esc else [], chiefs))
        # One query tells which messages already went: an idle minute enqueues, renders and inserts nothing.
        used = await outbox.used_keys(
            session, [k for d in dues for k in [d.reminder_key, *(e for e, _p in d.escalations)] if k is not None]
        )
        todo = [d for d in dues if (d.reminder_key and d.reminder_key not in used) or _escalation_open(d, used)]
        full = await task_store.tasks_by_ids(session, [d.task.id for d in todo])
        communes = await task_store.units_by_ids(session, [d.task.commune_id for d in todo])
        labels = await _labels_by_task(session, {d.task.id: d.pending for d in todo})
        people = await task_store.people_by_ids(session, [r.person_id for d in todo for r in d.pending if r.person_id])
        reach: Reach | None = None
        for due in todo:
            task = full[due.task.id]
            if task.commune_id not in communes:
                continue
            key = due.reminder_key
            if key is not None and key not in used and due.slot is not None:
                reach = reach or await load_reach(session)
                text = _reminder_text(task, today, labels[task.id or 0])
                chats = _reminder_chats(reach, task, communes[task.commune_id], due.pending, people)
                for number, chat in enumerate(chats):
                    # The first chat carries the task's own key: once it is queued, an idle minute skips the task.
                    row = await outbox.enqueue(
                        session,
                        platform=chat.platform,
                        chat_id=chat.chat_id,
                        text=text,
                        kind="reminder",
                        # "Xong" as one tap where the platform has buttons: the same as typing /xong <số>.
                        buttons=[Button("Xong", f"/xong {task.id}")],
                        dedupe_key=key if number == 0 else f"{key}:{chat.platform}:{chat.chat_id}",
                        now=now,
                        # The task's topic, only where the task was given (a private chat has no topics).
                        thread_id=task.thread_id
                        if (chat.platform, chat.chat_id) == (task.platform, task.chat_id)
                        else None,
                    )
                    if row is not None:
                        sent.append(f"nhắc việc #{task.id} ({due.slot.kind}) → {chat.platform}:{chat.chat_id}")
            if due.escalations:
                commune = communes[task.commune_id]
                sent += await _escalate(session, due, task, commune, labels[task.id or 0], used, today, now)
    return sent
