"""The one APScheduler scheduler of a process; each minute it runs the jobs `tocns.app.scheduled_jobs()` lists."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tocns.app import BotApp, collect_between_ticks, scheduled_jobs
from tocns.core.jobs import ScheduledJob
from tocns.core.supervisor import Backoff, describe, is_outage
from tocns.db.locks import advisory_lock

log = logging.getLogger(__name__)

# Any fixed 64-bit number: every process of this bot contends for the same PostgreSQL advisory lock.
JOBS_LOCK_KEY = 7_202_611_230_401
# The name the scheduler reports its progress under (/healthz).
LOOP_NAME = "scheduler"
# A tick that meets a database outage tries again within its minute (with backoff), up to this long.
TICK_RETRY_SECONDS = 50.0


class JobsUnreachable(Exception):
    """A job met a database (or network) outage: the tick is tried again, the jobs' dedupe keys prevent doubles."""


async def _run_one(app: BotApp, job: ScheduledJob, now: datetime) -> tuple[list[str], Exception | None]:
    """One job's log lines, or the outage it met (any other failure is logged and leaves the other jobs be)."""
    try:
        return await job.run(app, now), None
    except Exception as exc:
        if not is_outage(exc):
            log.exception("job %s failed", job.name)
            return [], None
        return [], exc


def _started(app: BotApp, job: ScheduledJob, now: datetime) -> asyncio.Task[tuple[list[str], Exception | None]]:
    # Each job's task named after it: a slow step or a stack dump names the job.
    return asyncio.create_task(_run_one(app, job, now), name=f"job {job.name}")


async def _in_turn(
    app: BotApp, jobs: list[ScheduledJob], now: datetime
) -> dict[str, tuple[list[str], Exception | None]]:
    """Run `jobs` one after the other; after one meets an outage the rest wait for the tick's retry (each would
    meet it too, one connection timeout after the other)."""
    done: dict[str, tuple[list[str], Exception | None]] = {}
    for job in jobs:
        done[job.name] = await _started(app, job, now)
        if done[job.name][1] is not None:
            break
    return done


async def _run_all(app: BotApp, now: datetime) -> list[str]:
    jobs = scheduled_jobs()
    if not app.db.parallel_sessions:
        # SQLite (one writer) or a rehearsal (`tocns tick --dry-run`: one connection): the jobs take turns.
        results = [await _run_one(app, job, now) for job in jobs]
    else:
        # Two lanes, each on its own connections: while the weekly summary's workbooks are drawn in the drawing
        # processes, the digests and reminders are built and queued (all in turn took the busy Monday 120 s at
        # national size, the drawing alone most of it). The digests and reminders take turns with each other: side
        # by side their PostgreSQL backends crowded the cores the jobs' loop and the webhooks need, for no shorter
        # tick (the summary is the longest lane; see docs/decisions.md).
        beside = {job.name: _started(app, job, now) for job in jobs if job.beside}
        try:
            done = await _in_turn(app, [job for job in jobs if not job.beside], now)
            done |= dict(zip(beside, await asyncio.gather(*beside.values()), strict=True))
        except BaseException:  # the tick cancelled (shutdown): no job is left running behind it
            for task in beside.values():
                task.cancel()
            raise
        results = [done.get(job.name, ([], None)) for job in jobs]
    outage = next((exc for _, exc in results if exc is not None), None)
    if outage is not None:
        raise JobsUnreachable(describe(outage)) from outage
    return [line for sent, _ in results for line in sent]


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


async def tick(app: BotApp) -> None:
    """The scheduler's minute: run the due jobs; when the database is away, try again with a capped backoff within
    the minute (one log line per outage), and report progress to the app's loop registry."""
    try:
        await _run_with_retries(app)
    finally:
        # After the minute's jobs, when what they read is gone: the full collection is short here (see
        # tocns.app.hold_full_collections).
        collect_between_ticks()


async def _run_with_retries(app: BotApp) -> None:
    backoff = Backoff(1.0, app.settings.loop_backoff_max_seconds)
    started = time.monotonic()
    logged = False
    while True:
        try:
            await run_due_jobs(app)
        except Exception as exc:
            if not (is_outage(exc) or isinstance(exc, JobsUnreachable)):
                log.exception("scheduled jobs failed")
                app.loops.failed(LOOP_NAME, exc, due=True)
                return
            app.loops.failed(LOOP_NAME, exc, due=True)
            delay = backoff.next()
            if not logged:
                log.warning("scheduler: database unreachable (%s); retrying with backoff", describe(exc))
                logged = True
            if time.monotonic() - started + delay > TICK_RETRY_SECONDS:
                return  # the next minute's tick tries again
            await asyncio.sleep(delay)
            continue
        if logged:
            log.warning("scheduler: database reachable again")
        app.loops.progress(LOOP_NAME, due=False)
        return


def start_scheduler(app: BotApp) -> AsyncIOScheduler:
    """Create and start the scheduler: one interval trigger that runs the due jobs every minute."""
    scheduler = AsyncIOScheduler(timezone=app.settings.tz)
    app.loops.progress(LOOP_NAME, due=False)
    scheduler.add_job(tick, "interval", minutes=1, args=[app], id="tick", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
