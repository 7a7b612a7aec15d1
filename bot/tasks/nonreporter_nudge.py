"""Weekly nudge: each commune group hears which teams have logged nothing this week."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.deadlines import fmt_date, in_quiet_hours
from bot.tasks import job
from storage import org as org_store
from storage import outbox
from storage import tasks as task_store
from storage.models import Level

if TYPE_CHECKING:
    from bot.app import BotApp


@job("nonreporter_nudge")
async def run(app: BotApp, now: datetime) -> list[str]:
    """From the nudge time until Sunday night, enqueue one message per commune group naming silent teams."""
    local_now = now.astimezone(app.settings.tz)
    if in_quiet_hours(local_now, app.settings.quiet_hours_start, app.settings.quiet_hours_end):
        return []
    monday = local_now.date() - timedelta(days=local_now.weekday())
    nudge_at = datetime.combine(monday + timedelta(days=app.settings.nudge_weekday), time(app.settings.nudge_hour))
    if local_now.replace(tzinfo=None) < nudge_at:
        return []
    sunday = monday + timedelta(days=6)
    sent: list[str] = []
    async with app.db.session() as session:
        for binding, commune in await task_store.commune_bindings(session):
            teams = await org_store.descendants(session, commune, level=Level.TEAM)
            if not teams:
                continue
            reported = await task_store.reported_teams(session, [t.id or 0 for t in teams], monday, sunday)
            silent = [t for t in teams if t.id not in reported]
            if not silent:
                continue
            text = (
                f"📋 Tuần {fmt_date(monday)}–{fmt_date(sunday)}: {len(silent)}/{len(teams)} tổ của {commune.name} "
                f"chưa ghi kết quả nào: {', '.join(t.name for t in silent)}.\n"
                "Các tổ ghi kết quả bằng /ghi trước Chủ nhật nhé."
            )
            row = await outbox.enqueue(
                session,
                platform=binding.platform,
                chat_id=binding.chat_id,
                text=text,
                kind="nudge",
                dedupe_key=f"nudge:{binding.platform}:{binding.chat_id}:{monday.isoformat()}",
                now=now,
            )
            if row is not None:
                sent.append(f"nhắc tổ chưa báo cáo ({len(silent)} tổ) → {binding.platform}:{binding.chat_id}")
    return sent
