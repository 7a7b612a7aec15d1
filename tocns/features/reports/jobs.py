"""Scheduled report jobs: the weekly province summary, the commune digest and the nudge to silent teams."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from tocns.core.dates import fmt_date, in_quiet_hours, is_holiday
from tocns.core.period import Period, week_of
from tocns.core.roles import Level
from tocns.core.schedule import daily_due, holiday_moved, weekly_due
from tocns.core.text import grouped
from tocns.db import job_done
from tocns.features.org import store as org_store
from tocns.features.org.models import OrgUnit
from tocns.features.org.reach import Chat, Reach, load_reach
from tocns.features.reports.files import ReportFiles, draw_off_loop, prepare_drawing, remove_leftovers
from tocns.features.reports.render import CHARTS_NEED_EXTRA, render_text
from tocns.features.reports.service import child_reports, unit_report
from tocns.features.reports.store import department_units, digest_recipients, root_chats
from tocns.features.tasks import store as task_store
from tocns.outbox import store as outbox

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from tocns.config import Settings
    from tocns.core.jobs import JobContext
    from tocns.db.engine import Database


# Messages enqueued per session (one commit each): a Monday morning takes the write lock in short turns.
ENQUEUE_BATCH = 200


@dataclass(frozen=True)
class _Summary:
    """One weekly summary message to send: its unit (the report's), where it goes and its once-a-week key."""

    unit: OrgUnit
    platform: str
    chat_id: str
    key: str

    @property
    def files_key(self) -> str:
        """The once-a-week key of the message with the files, which follows the text."""
        return self.key.replace("weekly_summary:", "weekly_summary_files:", 1)


async def _summary_chats(session: AsyncSession, period: Period) -> list[_Summary]:
    """Every department chat, and privately the department's people on a platform where it has no group."""
    groups = await root_chats(session)
    chats = [_Summary(u, p, c, f"weekly_summary:{p}:{c}:{period.slug}") for u, p, c in groups]
    roots = await department_units(session)
    # Only the people holding a role on a department unit itself are asked for: read theirs, not the country's
    # thousands of groups and private chats (~50 ms of the jobs' event loop at national size, bench/RESULTS.md).
    reach = Reach([], await org_store.privately_reachable(session, on=[root.id or 0 for root in roots]))
    for root in roots:
        platforms = {platform for unit, platform, _chat in groups if unit.id == root.id}
        chats += [
            _Summary(root, chat.platform, chat.chat_id, f"weekly_summary:person:{chat.person.id}:{period.slug}")
            for chat in reach.people_of([root.id or 0], platforms)
            if chat.person is not None
        ]
    return chats


async def enqueue_batches(db: Database, messages: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Enqueue `messages` (outbox.enqueue's arguments) in sessions of ENQUEUE_BATCH; return those enqueued."""
    queued: list[dict[str, Any]] = []
    for first in range(0, len(messages), ENQUEUE_BATCH):
        batch = messages[first : first + ENQUEUE_BATCH]
        async with db.session() as session:
            stored = await outbox.enqueue_many(session, [{**message, "now": now} for message in batch])
        queued += [message for message in batch if message["dedupe_key"] in stored]
        # Between two batches the webhooks and the sender get the event loop.
        await asyncio.sleep(0)
    return queued


@dataclass
class _SummaryTodo:
    """What is left of a week's summary: the chats still owed the text or the files, each unit's text, and the
    drawing of each unit whose files are owed."""

    texts_to: list[_Summary]
    files_to: list[_Summary]
    texts: dict[int, str]
    # Each unit's files, being drawn already: a unit's drawing starts as soon as its rows are read, so the drawing
    # processes work while the next units are read (read first, then drawn, the national Monday took 80 s).
    drawings: dict[int, asyncio.Future[ReportFiles]]


async def _summary_todo(session: AsyncSession, settings: Settings, period: Period, now: datetime) -> _SummaryTodo:
    """Read what the summary still owes: each unit's report once, its text, and its raw rows spooled to draw."""
    # On a platform where the department has no group, its people get the summary privately, once each.
    chats = await _summary_chats(session, period)
    used = await outbox.used_keys(session, [key for chat in chats for key in (chat.key, chat.files_key)])
    todo = _SummaryTodo([c for c in chats if c.key not in used], [c for c in chats if c.files_key not in used], {}, {})
    to_draw = {chat.unit.id or 0 for chat in todo.files_to}
    if to_draw:
        remove_leftovers(settings, now)  # what a killed drawing left: once a week, before this week's spools
    try:
        for unit in {chat.unit.id or 0: chat.unit for chat in todo.texts_to + todo.files_to}.values():
            report = await unit_report(session, unit, period, settings, now)
            todo.texts[unit.id or 0] = render_text(report, settings.tz)
            if (unit.id or 0) in to_draw:
                drawing = await prepare_drawing(session, settings, unit, period, report, now)
                todo.drawings[unit.id or 0] = asyncio.ensure_future(draw_off_loop(settings, drawing))
    except BaseException:
        # The job fails and runs again next minute: nothing waits for the drawings already started.
        for started in todo.drawings.values():
            started.cancel()
        raise
    return todo


async def weekly_summary(app: JobContext, now: datetime) -> list[str]:
    """Enqueue the summary of the week that just ended to each department chat, once per chat and week: the text
    first, then a second message with the files (chart, workbook, raw data's zip) once they are drawn.

    Three steps, so the write lock is never held while drawing: read (each unit's report once, its raw rows
    spooled) and enqueue the texts, draw with no session open (off the event loop), enqueue the files.
    """
    settings = app.settings
    local_now = now.astimezone(settings.tz)
    # Informative: on a public holiday it waits for the first day after (docs/holidays.md).
    nominal = weekly_due(local_now, settings.weekly_summary_weekday, settings.weekly_summary_time, "info")
    if nominal is None:
        return []
    period = week_of(nominal - timedelta(days=7))
    async with app.db.session() as session:
        # The rest of the summary's day, each minute reads this one row instead of every department's chats.
        if await job_done.finished(session, "weekly_summary", period.slug):
            return []
        todo = await _summary_todo(session, settings, period, now)
    # The texts go out now: a department reads its figures while the files are drawn (minutes at national scale).
    text_messages = [(chat, chat.key, {"text": todo.texts[chat.unit.id or 0]}) for chat in todo.texts_to]
    try:
        lines = await _enqueue_summaries(app, "weekly_summary", text_messages, period, now)
        # RENDER_WORKERS processes draw side by side, each department's files handed over as soon as they were read.
        drawn = await asyncio.gather(*todo.drawings.values())
    except BaseException:
        # The job runs again next minute (the database away, a drawing failed): nobody waits for the others.
        for started in todo.drawings.values():
            started.cancel()
        raise
    files = dict(zip(todo.drawings, drawn, strict=True))
    file_messages = [
        (chat, chat.files_key, _files_message(files[chat.unit.id or 0], chat.unit, period)) for chat in todo.files_to
    ]
    lines += await _enqueue_summaries(app, "weekly_summary files", file_messages, period, now)
    async with app.db.session() as session:
        await job_done.mark_finished(session, "weekly_summary", period.slug, now)
    return lines


def _files_message(files: ReportFiles, unit: OrgUnit, period: Period) -> dict[str, Any]:
    """The message that follows a summary's text: one line naming the files, then the files themselves (the Zalo
    and GapoWork transports turn documents into signed links)."""
    text = f"📎 Tệp báo cáo {unit.name}, {period.label}: biểu đồ và bảng tính Excel."
    if files.png is None:
        text = f"📎 Tệp báo cáo {unit.name}, {period.label}: bảng tính Excel.\n{CHARTS_NEED_EXTRA}"
    if files.raw_zip_names:
        text += (
            f"\nDữ liệu gốc ({grouped(files.raw_rows)} dòng) ở dạng CSV trong tệp zip gửi kèm, không nằm trong bảng "
            "tính (bảng tính ghi rõ điều này); đủ mọi dòng."
        )
    return {"text": text, "attachments": [file for file in (files.png, *files.documents) if file is not None]}


async def _enqueue_summaries(
    app: JobContext, what: str, chats: list[tuple[_Summary, str, dict[str, Any]]], period: Period, now: datetime
) -> list[str]:
    """Enqueue one message per (chat, once-a-week key, message), each key once; return the log lines."""
    messages = [
        dict(platform=chat.platform, chat_id=chat.chat_id, kind="summary", dedupe_key=key, **message)
        for chat, key, message in chats
    ]
    by_key = {key: chat for chat, key, _message in chats}
    return [
        f"{what} {by_key[m['dedupe_key']].unit.code} {period.slug} -> {m['platform']}:{m['chat_id']}"
        for m in await enqueue_batches(app.db, messages, now)
    ]


def digest_period(now: datetime, app: JobContext) -> Period | None:
    """The period the digest covers at `now` (last week, or yesterday when daily), or None when not due."""
    settings = app.settings
    local_now = now.astimezone(settings.tz)
    # Informative: not sent on a public holiday; the first day after covers what the holiday held back.
    if settings.commune_digest_frequency == "daily":
        days = daily_due(local_now, settings.commune_digest_time)
        return None if days is None else Period(days[0], days[1], "range")
    nominal = weekly_due(local_now, 0, settings.commune_digest_time, "info")
    return None if nominal is None else week_of(nominal - timedelta(days=7))


# Digests rendered between two yields to the event loop (a few milliseconds of Python each).
RENDER_BATCH = 20

# (commune, platform, chat id, dedupe key) of one digest message.
_Recipient = tuple[OrgUnit, str, str, str]


async def _digest_texts(
    app: JobContext, parent_id: int | None, communes: list[OrgUnit], period: Period, now: datetime
) -> dict[int, str]:
    """The digest text of each of `communes` (all under `parent_id`), by id: their reports read with the parent's
    statements, rendered in batches that give the event loop a turn in between."""
    async with app.db.session() as session:
        parent = None if parent_id is None else await session.get(OrgUnit, parent_id)
        if parent is None:
            reports = {
                c.id or 0: await unit_report(session, c, period, app.settings, now, team_rows=False) for c in communes
            }
        else:
            reports = await child_reports(session, parent, communes, period, app.settings, now)
    texts: dict[int, str] = {}
    for number, (commune_id, report) in enumerate(reports.items(), 1):
        texts[commune_id] = render_text(report, app.settings.tz)
        if number % RENDER_BATCH == 0:
            await asyncio.sleep(0)
    return texts


async def commune_digest(app: JobContext, now: datetime) -> list[str]:
    """Enqueue each commune's digest to its leaders' private chats (or its groups), once per recipient and period.

    Province by province: the communes' reports are read with their province's statements (a constant number per
    province, not per commune), rendered, and enqueued in batches each committed on its own.
    """
    period = digest_period(now, app)
    if period is None:
        return []
    async with app.db.session() as session:
        # Once every digest of the period is queued, the rest of the day costs one row a minute.
        if await job_done.finished(session, "commune_digest", period.slug):
            return []
        # Keyed by person, not chat: a leader who opens a private chat mid-week does not get the week twice.
        recipients: list[_Recipient] = [
            (commune, platform, chat_id, f"commune_digest:{commune.code}:{who}:{period.slug}")
            for commune, platform, chat_id, who in await digest_recipients(session)
        ]
        used = await outbox.used_keys(session, [key for *_r, key in recipients])
    by_parent: dict[int | None, list[_Recipient]] = {}
    for recipient in recipients:
        if recipient[3] not in used:
            by_parent.setdefault(recipient[0].parent_id, []).append(recipient)
    sent: list[str] = []
    for parent_id, todo in by_parent.items():
        communes = list({commune.id or 0: commune for commune, *_rest in todo}.values())
        texts = await _digest_texts(app, parent_id, communes, period, now)
        messages = [
            dict(platform=p, chat_id=c, text=texts[u.id or 0], kind="digest", dedupe_key=key) for u, p, c, key in todo
        ]
        stored = {m["dedupe_key"] for m in await enqueue_batches(app.db, messages, now)}
        sent += [f"commune_digest {u.code} {period.slug} -> {p}:{c}" for u, p, c, key in todo if key in stored]
    async with app.db.session() as session:
        await job_done.mark_finished(session, "commune_digest", period.slug, now)
    return sent


async def _teams_by_commune(session: AsyncSession, communes: list[OrgUnit]) -> dict[int, list[OrgUnit]]:
    """Each commune's active teams by code (as `org.descendants`), from one query over all teams."""
    by_path = {c.path: c.id or 0 for c in communes}
    out: dict[int, list[OrgUnit]] = {}
    for team in await task_store.active_teams(session):
        parts = team.path.strip("/").split("/")
        for depth in range(1, len(parts)):
            commune_id = by_path.get("/" + "/".join(parts[:depth]) + "/")
            if commune_id is not None:
                out.setdefault(commune_id, []).append(team)
    return out


def _nudge_monday(settings: Settings, local_now: datetime) -> date | None:
    """The Monday of the week whose nudge is due at `local_now`, or None when it is not due."""
    if in_quiet_hours(local_now, settings.quiet_hours_start, settings.quiet_hours_end):
        return None
    monday = local_now.date() - timedelta(days=local_now.weekday())
    # It asks teams to act before Sunday: on a public holiday it goes on the last working day before, inside the
    # week, and never on the holiday itself (docs/holidays.md).
    nudge_day = holiday_moved(monday + timedelta(days=settings.nudge_weekday), "action", not_before=monday)
    if nudge_day is None or is_holiday(local_now.date()):
        return None
    if local_now.replace(tzinfo=None) < datetime.combine(nudge_day, time(settings.nudge_hour)):
        return None
    return monday


# (platform, chat id, the person's own unit or None for a group or a commune leader, commune, dedupe key)
_NudgeTarget = tuple[str, str, int | None, OrgUnit, str]


async def _nudge_targets(session: AsyncSession, week: str) -> list[_NudgeTarget]:
    """The commune groups, and people reached privately, not nudged this week."""
    targets: list[_NudgeTarget] = [
        (b.platform, b.chat_id, None, commune, f"nudge:{b.platform}:{b.chat_id}:{week}")
        for b, commune in await task_store.commune_bindings(session)
    ]
    targets += [
        (chat.platform, chat.chat_id, chat.unit_id, commune, key)
        for chat, commune, key in await _private_nudges(session, week)
    ]
    used = await outbox.used_keys(session, [t[4] for t in targets])
    return [t for t in targets if t[4] not in used]


def _nudge_text(commune: OrgUnit, monday: date, silent: list[OrgUnit], teams: list[OrgUnit]) -> str:
    sunday = monday + timedelta(days=6)
    return (
        f"📋 Tuần {fmt_date(monday)}–{fmt_date(sunday)}: {len(silent)}/{len(teams)} tổ của {commune.name} "
        f"chưa ghi kết quả nào: {', '.join(t.name for t in silent)}.\n"
        "Các tổ ghi kết quả bằng /ghi trước Chủ nhật nhé."
    )


async def nonreporter_nudge(app: JobContext, now: datetime) -> list[str]:
    """From the nudge time until Sunday night, enqueue one message per commune group naming silent teams."""
    monday = _nudge_monday(app.settings, now.astimezone(app.settings.tz))
    if monday is None:
        return []
    week = monday.isoformat()
    async with app.db.session() as session:
        # Friday to Sunday night this runs every minute: once the week's pass went through (every group nudged or
        # found with nothing to hear), each minute reads this one row, not every group and team.
        if await job_done.finished(session, "nonreporter_nudge", week):
            return []
        targets = await _nudge_targets(session, week)
        if not targets:
            await job_done.mark_finished(session, "nonreporter_nudge", week, now)
            return []
        teams_of = await _teams_by_commune(session, [t[3] for t in targets])
        reported = await task_store.teams_reported_between(session, monday, monday + timedelta(days=6))
    messages: list[dict[str, Any]] = []
    lines: dict[str, str] = {}
    for platform, chat_id, own_unit, commune, key in targets:
        teams = teams_of.get(commune.id or 0, [])
        silent = [t for t in teams if t.id not in reported]
        # Privately, a team's people hear only about their own team; a commune's leaders about every team.
        concerned = silent if own_unit in (None, commune.id) else [t for t in silent if t.id == own_unit]
        if not concerned:
            continue
        text = _nudge_text(commune, monday, silent, teams)
        messages.append(dict(platform=platform, chat_id=chat_id, text=text, kind="nudge", dedupe_key=key))
        lines[key] = f"nhắc tổ chưa báo cáo ({len(silent)} tổ) → {platform}:{chat_id}"
    # Committed per batch, the event loop's turn in between: a country's groups do not hold one transaction.
    sent = [lines[m["dedupe_key"]] for m in await enqueue_batches(app.db, messages, now)]
    async with app.db.session() as session:
        await job_done.mark_finished(session, "nonreporter_nudge", week, now)
    return sent


async def _private_nudges(session: AsyncSession, week: str) -> list[tuple[Chat, OrgUnit, str]]:
    """The people a commune's nudge reaches privately (no group of the commune on their platform), with the
    commune and the once-a-week key named after the person (docs/private-chats.md)."""
    reach = await load_reach(session)
    out: list[tuple[Chat, OrgUnit, str]] = []
    if not reach.people:
        return out
    for commune in await org_store.active_units(session, Level.COMMUNE):
        for chat in reach.chats_of(commune):
            if chat.person is not None:
                out.append((chat, commune, f"nudge:person:{chat.person.id}:{week}"))
    return out
