"""The one APScheduler scheduler of a process; jobs come from `bot.tasks`."""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import BotApp
from bot.tasks import JOBS


def start_scheduler(app: BotApp) -> AsyncIOScheduler:
    """Create and start the scheduler with every registered job."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    for job in JOBS:
        job.schedule(scheduler, app)
    scheduler.start()
    return scheduler
