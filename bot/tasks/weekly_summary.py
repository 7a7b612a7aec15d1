"""Monday 07:30 (configurable): every department chat receives last week's province summary with chart and Excel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.reports.delivery import due_today, write_report_files
from bot.reports.period import week_of
from bot.reports.render import CHARTS_NEED_EXTRA, render_text
from bot.reports.service import unit_report
from bot.tasks import job
from storage import outbox
from storage.reports import root_chats

if TYPE_CHECKING:
    from bot.app import BotApp


@job("weekly_summary")
async def run(app: BotApp, now: datetime) -> list[str]:
    """Enqueue the summary of the week that just ended to each department chat, once per chat and week."""
    settings = app.settings
    if not due_today(now, settings, settings.weekly_summary_time, settings.weekly_summary_weekday):
        return []
    period = week_of(now.astimezone(settings.tz).date() - timedelta(days=7))
    sent: list[str] = []
    async with app.db.session() as session:
        chats = [
            (unit, platform, chat_id, f"weekly_summary:{platform}:{chat_id}:{period.slug}")
            for unit, platform, chat_id in await root_chats(session)
        ]
        used = await outbox.used_keys(session, [key for *_c, key in chats])
        for unit, platform, chat_id, key in chats:
            if key in used:
                continue
            report = await unit_report(session, unit, period, settings, now)
            files = await write_report_files(session, settings, unit, period, report)
            text = render_text(report, settings.tz)
            if files.png is None:
                text += f"\n{CHARTS_NEED_EXTRA}"
            # Both files go to every chat: the Zalo transport turns the workbook into a signed link.
            attachments = [file for file in (files.png, files.xlsx) if file is not None]
            row = await outbox.enqueue(
                session,
                platform=platform,
                chat_id=chat_id,
                text=text,
                kind="summary",
                dedupe_key=key,
                attachments=attachments,
                now=now,
            )
            if row is not None:
                sent.append(f"weekly_summary {unit.code} {period.slug} -> {platform}:{chat_id}")
    return sent
