"""The scheduler's minute survives the database going away: it retries with backoff, reports progress (issue 22)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tocns import scheduler
from tocns.app import BotApp


async def test_a_tick_that_meets_an_outage_tries_again_and_reports_progress(
    app: BotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[datetime | None] = []

    async def flaky(bot: BotApp, now: datetime | None = None, wait: bool = False) -> list[str]:
        calls.append(now)
        if len(calls) < 3:
            raise OperationalError("SELECT pg_try_advisory_lock(1)", {}, ConnectionRefusedError("refused"))
        return []

    async def no_sleep(_seconds: float) -> None:
        return None

    monkeypatch.setattr(scheduler, "run_due_jobs", flaky)
    monkeypatch.setattr(scheduler.asyncio, "sleep", no_sleep)
    await scheduler.tick(app)
    assert len(calls) == 3  # retried within the minute instead of waiting for the next one
    state = app.loops.state(scheduler.LOOP_NAME)
    assert state.error is None and state.due is False


async def test_a_job_that_meets_an_outage_makes_the_tick_retry(app: BotApp, monkeypatch: pytest.MonkeyPatch) -> None:
    class Job:
        name = "flaky"
        runs = 0

        async def run(self, bot: Any, now: datetime) -> list[str]:
            Job.runs += 1
            if Job.runs == 1:
                raise OperationalError("INSERT", {}, OSError("disk I/O error"))
            return ["sent"]

    monkeypatch.setattr(scheduler, "scheduled_jobs", lambda: [Job()])
    with pytest.raises(scheduler.JobsUnreachable):
        await scheduler.run_due_jobs(app)
    assert await scheduler.run_due_jobs(app) == ["sent"]
