"""The one APScheduler scheduler of a process; it runs every job of `bot.tasks` each minute."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import BotApp
from bot.tasks import load_jobs

log = logging.getLogger(__name__)


async def run_due_jobs(app: BotApp) -> list[str]:
    """Run every job at the app's current time; each job decides for itself what is due."""
    sent: list[str] = []
    now = app.clock()
    for job in load_jobs():
        try:
            sent.extend(await job.run(app, now))
        except Exception:
            log.exception("job %s failed", job.name)
    return sent


def start_scheduler(app: BotApp) -> AsyncIOScheduler:
    """Create and start the scheduler: one interval trigger that runs the due jobs every minute."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    scheduler.add_job(run_due_jobs, "interval", minutes=1, args=[app], id="tick", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
