"""Weekly nudge: each commune group hears which teams have logged nothing this week."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from bot.deadlines import fmt_date, in_quiet_hours
from bot.tasks import job
from storage import outbox
from storage import tasks as task_store
from storage.models import OrgUnit

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.app import BotApp
    from storage.db import Database

# Groups checked this week whose commune had no silent team. Friday to Sunday night the job runs every minute and
# each check reads every team: without this, one fully reported commune made every tick read them all again.
# Kept per database in this process; a restart checks those groups once more, which sends nothing new.
_settled: WeakKeyDictionary[Database, set[str]] = WeakKeyDictionary()


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
        bindings = [
            (binding, commune, f"nudge:{binding.platform}:{binding.chat_id}:{monday.isoformat()}")
            for binding, commune in await task_store.commune_bindings(session)
        ]
        # Friday to Sunday night this runs every minute: once a group was nudged, it costs nothing more.
        settled = _settled.setdefault(app.db, set())
        week = monday.isoformat()
        settled.difference_update({k for k in settled if not k.endswith(week)})
        used = await outbox.used_keys(session, [key for _b, _c, key in bindings if key not in settled])
        todo = [(b, c, key) for b, c, key in bindings if key not in used and key not in settled]
        if not todo:
            return []
        teams_of = await _teams_by_commune(session, [c for _b, c, _k in todo])
        reported = await task_store.teams_reported_between(session, monday, sunday)
        for binding, commune, key in todo:
            teams = teams_of.get(commune.id or 0, [])
            silent = [t for t in teams if t.id not in reported]
            if not silent:
                settled.add(key)
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
                dedupe_key=key,
                now=now,
            )
            if row is not None:
                sent.append(f"nhắc tổ chưa báo cáo ({len(silent)} tổ) → {binding.platform}:{binding.chat_id}")
    return sent
