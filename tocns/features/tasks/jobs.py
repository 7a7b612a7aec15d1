"""Task reminders: before the deadline, on the day, on a fading cadence while overdue, one escalation to leaders."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from weakref import WeakSet

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

    from tocns.config import Settings
    from tocns.core.jobs import JobContext
    from tocns.db.engine import Database


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


def _settings_from(settings: Settings, row: TaskReminderSetting | None) -> tuple[list[int], int]:
    if row is None:
        return settings.default_lead_days, settings.task_escalate_after_days
    return [int(p) for p in row.lead_days.split(",") if p], row.escalate_after_days


@dataclass(frozen=True)
class _Plan:
    """What of a task is due at a moment: its reminder slot, whether to escalate, and when to look again."""

    slot: Slot | None
    escalate: bool
    next_at: datetime | None


def _plan(due: date, lead_days: list[int], escalate_after: int, created: date, local_now: datetime, hour: int) -> _Plan:
    """A task's plan at `local_now`: its slot and escalation now, and the next moment something new is due."""
    every = reminder_slots(due, lead_days, date.max, created)
    today = local_now.date()
    slot = current_slot([s for s in every if s.day <= today], local_now, hour)
    escalate_at = datetime.combine(escalation_day(due, escalate_after), time(hour), local_now.tzinfo)
    moments = [datetime.combine(s.day, time(hour), local_now.tzinfo) for s in every] + [escalate_at]
    later = [m for m in moments if m > local_now]
    return _Plan(slot, escalate_at <= local_now, min(later).astimezone(UTC) if later else None)


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
    platforms = {b.platform for b in groups}
    return [Chat(b.platform, b.chat_id, b.org_unit_id) for b in chosen] + _private_chats(
        reach, commune, pending, people, platforms
    )


def _private_chats(
    reach: Reach, commune: OrgUnit, pending: list[PendingAssignee], people: dict[int, Person], platforms: set[str]
) -> list[Chat]:
    """The private chats of the unfinished people, then of the unfinished teams' members (each person once), on
    platforms where the commune has no group."""
    chats: list[Chat] = []
    for row in pending:
        person = people.get(row.person_id or 0)
        if person is not None and person.private_chat_id and person.platform not in platforms:
            chats.append(Chat(person.platform, person.private_chat_id, commune.id or 0, person))
    seen = {c.person.id or 0 for c in chats if c.person is not None}
    teams = [r.team_id for r in pending if r.team_id]
    return chats + [c for c in reach.people_of(teams, platforms) if c.person is not None and c.person.id not in seen]


def _escalation_targets(task: OpenTask, leaders: list[Person]) -> list[tuple[str, Person | None]]:
    private = [p for p in leaders if p.private_chat_id and p.platform == task.platform]
    if private:
        return [(f"task-escalation:{task.id}:{p.id}", p) for p in private]
    return [(f"task-escalation:{task.id}:chat", None)]


def _escalation_messages(
    due: _Due, task: Task, commune: OrgUnit, labels: list[str], used: set[str], today: date
) -> list[tuple[dict[str, Any], str]]:
    """The escalations of `due` not enqueued yet: (enqueue's arguments, the line to log when stored)."""
    text = (
        f"⚠️ Việc #{task.id} của {commune.name} đã {due_status(task.due_date, today)}: {one_line(task.title)}\n"
        f"Hạn: {fmt_date(task.due_date)}. Chưa xong: {', '.join(labels)}."
    )
    out: list[tuple[dict[str, Any], str]] = []
    for key, person in due.escalations:
        if key in used:
            continue
        if person is not None:
            chat_id = person.private_chat_id or ""
            message: dict[str, Any] = dict(
                platform=task.platform, chat_id=chat_id, text=text, kind="escalation", dedupe_key=key
            )
            out.append((message, f"báo lãnh đạo việc #{task.id} → {person.display_name} ({task.platform}:{chat_id})"))
            continue
        names = ", ".join(mention(p) for p in due.leaders)
        message = dict(
            platform=task.platform,
            chat_id=task.chat_id,
            text=f"{names}\n{text}" if names else text,
            kind="escalation",
            dedupe_key=key,
            thread_id=task.thread_id,
        )
        out.append((message, f"báo lãnh đạo việc #{task.id} → {task.platform}:{task.chat_id}"))
    return out


# Databases whose open tasks this process has made due once: the settings from the environment (lead days, the
# reminder hour) may differ from those of the process that stored their next-due times.
_rechecked: WeakSet[Database] = WeakSet()

# Tasks looked at per session (one commit each): a busy morning takes the write lock in short turns, and the event
# loop is held ~25 ms at most between two statements (500 held it ~50 ms, bench/RESULTS.md).
TASK_BATCH = 250


def _plans(
    settings: Settings,
    heads: list[OpenTask],
    pending_by_task: dict[int, list[PendingAssignee]],
    rows: dict[int, TaskReminderSetting],
    local_now: datetime,
) -> tuple[list[tuple[OpenTask, _Plan]], dict[int, datetime | None]]:
    """The due tasks with something to send now, and every task's next-due time to store."""
    # Tasks share a handful of deadlines and settings: each combination is worked out once per run.
    plans: dict[tuple[date, tuple[int, ...], int, date], _Plan] = {}
    candidates: list[tuple[OpenTask, _Plan]] = []
    next_due: dict[int, datetime | None] = {}
    for head in heads:
        if not pending_by_task.get(head.id):
            next_due[head.id] = None  # everyone finished: nothing more to remind
            continue
        lead_days, escalate_after = _settings_from(settings, rows.get(head.commune_id))
        created = head.created_at.astimezone(settings.tz).date()
        key = (head.due_date, tuple(lead_days), escalate_after, created)
        plan = plans.get(key) or plans.setdefault(
            key, _plan(head.due_date, lead_days, escalate_after, created, local_now, settings.task_reminder_hour)
        )
        next_due[head.id] = plan.next_at
        if plan.slot is not None or plan.escalate:
            candidates.append((head, plan))
    return candidates, next_due


async def _dues(
    session: AsyncSession, settings: Settings, heads: list[OpenTask], local_now: datetime
) -> tuple[list[_Due], dict[int, datetime | None]]:
    """What is due now of `heads` (with the commune leaders of escalations), and their next-due times."""
    pending_by_task = await task_store.pending_assignees(session, [h.id for h in heads])
    rows = await task_store.reminder_settings(session, {h.commune_id for h in heads})
    candidates, next_due = _plans(settings, heads, pending_by_task, rows, local_now)
    leaders = await task_store.people_with_role(
        session, {h.commune_id for h, plan in candidates if plan.escalate}, Role.COMMUNE_LEADER.value
    )
    dues = []
    for head, plan in candidates:
        chiefs = leaders.get(head.commune_id, []) if plan.escalate else []
        targets = _escalation_targets(head, chiefs) if plan.escalate else []
        dues.append(_Due(head, pending_by_task[head.id], plan.slot, targets, chiefs))
    return dues, next_due


def _reminder_messages(
    reach: Reach, due: _Due, task: Task, commune: OrgUnit, text: str, people: dict[int, Person]
) -> list[tuple[dict[str, Any], str]]:
    """One task reminder to every chat it goes to (the first chat carries the task's own key): (enqueue's
    arguments, the line to log when stored)."""
    key, slot = due.reminder_key, due.slot
    assert key is not None and slot is not None
    out: list[tuple[dict[str, Any], str]] = []
    for number, chat in enumerate(_reminder_chats(reach, task, commune, due.pending, people)):
        own_chat = (chat.platform, chat.chat_id) == (task.platform, task.chat_id)
        message = dict(
            platform=chat.platform,
            chat_id=chat.chat_id,
            text=text,
            kind="reminder",
            # "Xong" as one tap where the platform has buttons: the same as typing /xong <số>.
            buttons=[Button("Xong", f"/xong {task.id}")],
            # Once the first chat's row is queued, the next look at the task skips it.
            dedupe_key=key if number == 0 else f"{key}:{chat.platform}:{chat.chat_id}",
            # The task's topic, only where the task was given (a private chat has no topics).
            thread_id=task.thread_id if own_chat else None,
        )
        out.append((message, f"nhắc việc #{task.id} ({slot.kind}) → {chat.platform}:{chat.chat_id}"))
    return out


def _keys(due: _Due) -> list[str]:
    keys = [key for key, _person in due.escalations]
    return keys if due.reminder_key is None else [due.reminder_key, *keys]


async def _not_sent(session: AsyncSession, dues: list[_Due]) -> tuple[list[_Due], set[str]]:
    """The dues with a message not enqueued yet, and the keys already used."""
    # One query tells which messages already went: a minute with nothing new enqueues, renders and inserts nothing.
    used = await outbox.used_keys(session, [key for due in dues for key in _keys(due)])
    return [due for due in dues if any(key not in used for key in _keys(due))], used


async def _send(session: AsyncSession, dues: list[_Due], today: date, now: datetime) -> list[str]:
    """Enqueue the reminders and escalations of `dues` not enqueued yet (multi-row inserts, not one per message)."""
    todo, used = await _not_sent(session, dues)
    full = await task_store.tasks_by_ids(session, [d.task.id for d in todo])
    communes = await task_store.units_by_ids(session, [d.task.commune_id for d in todo])
    labels = await _labels_by_task(session, {d.task.id: d.pending for d in todo})
    people = await task_store.people_by_ids(session, [r.person_id for d in todo for r in d.pending if r.person_id])
    reach: Reach | None = None
    messages: list[tuple[dict[str, Any], str]] = []
    for due in todo:
        task = full[due.task.id]
        commune = communes.get(task.commune_id)
        if commune is None:
            continue
        if due.reminder_key not in used and due.reminder_key is not None:
            # The groups and people of these tasks' communes only, not the country's.
            reach = reach or await load_reach(session, under=communes.values())
            text = _reminder_text(task, today, labels[task.id or 0])
            messages += _reminder_messages(reach, due, task, commune, text, people)
        if due.escalations:
            messages += _escalation_messages(due, task, commune, labels[task.id or 0], used, today)
    stored = await outbox.enqueue_many(session, [{**message, "now": now} for message, _line in messages])
    return outbox.stored_lines(messages, stored)


async def task_reminders(app: JobContext, now: datetime) -> list[str]:
    """Enqueue every task reminder and escalation due at `now` that has not been enqueued yet.

    Only the tasks whose stored next-due time has come are read (an idle minute is one indexed query); each one
    looked at gets its next-due time stored again, from the same slots and holiday rule.
    """
    local_now = now.astimezone(app.settings.tz)
    if in_quiet_hours(local_now, app.settings.quiet_hours_start, app.settings.quiet_hours_end):
        return []
    if app.db not in _rechecked:
        async with app.db.session() as session:
            await task_store.recheck_open_tasks(session, now)
        _rechecked.add(app.db)
    sent: list[str] = []
    seen: set[int] = set()
    while True:
        async with app.db.session() as session:
            # Each task looked at gets a next-due time after `now`: a task seen twice would be a bug, not a loop.
            heads = [h for h in await task_store.due_task_deadlines(session, now, TASK_BATCH) if h.id not in seen]
            if not heads:
                return sent
            seen.update(h.id for h in heads)
            dues, next_due = await _dues(session, app.settings, heads, local_now)
            sent += await _send(session, dues, local_now.date(), now)
            await task_store.store_next_due(session, next_due)
        # Between two batches the webhooks and the sender get the event loop.
        await asyncio.sleep(0)
