"""Monday 07:00 (or daily, configurable): each commune's leaders receive their commune's report."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.reports.delivery import due_today
from bot.reports.period import Period, week_of
from bot.reports.render import render_text
from bot.reports.service import unit_report
from bot.tasks import job
from storage import outbox
from storage.reports import Report, digest_recipients

if TYPE_CHECKING:
    from bot.app import BotApp


def digest_period(now: datetime, app: BotApp) -> Period | None:
    """The period the digest covers at `now` (last week, or yesterday when daily), or None when not due."""
    settings = app.settings
    daily = settings.commune_digest_frequency == "daily"
    if not due_today(now, settings, settings.commune_digest_time, None if daily else 0):
        return None
    today = now.astimezone(settings.tz).date()
    if daily:
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday, "range")
    return week_of(today - timedelta(days=7))


@job("commune_digest")
async def run(app: BotApp, now: datetime) -> list[str]:
    """Enqueue each commune's digest to its leaders' private chats (or its groups), once per recipient and period."""
    period = digest_period(now, app)
    if period is None:
        return []
    sent: list[str] = []
    reports: dict[int, Report] = {}
    async with app.db.session() as session:
        recipients = [
            (commune, platform, chat_id, f"commune_digest:{commune.code}:{platform}:{chat_id}:{period.slug}")
            for commune, platform, chat_id in await digest_recipients(session)
        ]
        # One query for the whole period: once sent, the rest of the day costs three statements a minute.
        used = await outbox.used_keys(session, [key for *_r, key in recipients])
        for commune, platform, chat_id, key in recipients:
            if key in used:
                continue
            report = reports.get(commune.id or 0)
            if report is None:
                report = await unit_report(session, commune, period, app.settings, now)
                reports[commune.id or 0] = report
            row = await outbox.enqueue(
                session,
                platform=platform,
                chat_id=chat_id,
                text=render_text(report, app.settings.tz),
                kind="digest",
                dedupe_key=key,
                now=now,
            )
            if row is not None:
                sent.append(f"commune_digest {commune.code} {period.slug} -> {platform}:{chat_id}")
    return sent
