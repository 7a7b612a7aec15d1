"""The one APScheduler scheduler of a process; it runs every job of `tocns.core.jobs` each minute."""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tocns.app import BotApp, scheduled_jobs
from tocns.db.locks import advisory_lock

log = logging.getLogger(__name__)

# Any fixed 64-bit number: every process of this bot contends for the same PostgreSQL advisory lock.
JOBS_LOCK_KEY = 7_202_611_230_401


async def _run_all(app: BotApp, now: datetime) -> list[str]:
    sent: list[str] = []
    for job in scheduled_jobs():
        try:
            sent.extend(await job.run(app, now))
        except Exception:
            log.exception("job %s failed", job.name)
    return sent


async def run_due_jobs(app: BotApp, now: datetime | None = None, wait: bool = False) -> list[str]:
    """Run every job at `now` (default: the app's clock); each job decides for itself what is due.

    On PostgreSQL only one process runs the jobs at a time (an advisory lock): the scheduler skips a
    minute another process holds, `tocns tick` (wait=True) queues behind it. On SQLite the dedupe keys
    and BEGIN IMMEDIATE are enough.
    """
    now = now or app.clock()
    async with advisory_lock(app.db, JOBS_LOCK_KEY, wait=wait) as got:
        if not got:
            log.info("another process is running the scheduled jobs; skipping this minute")
            return []
        return await _run_all(app, now)


def start_scheduler(app: BotApp) -> AsyncIOScheduler:
    """Create and start the scheduler: one interval trigger that runs the due jobs every minute."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    scheduler.add_job(run_due_jobs, "interval", minutes=1, args=[app], id="tick", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
