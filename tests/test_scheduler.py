"""The scheduler's minute survives the database going away: it retries with backoff, reports progress (issue 22);
an idle minute reads only what is due, whatever the number of units (issue 24)."""

from __future__ import annotations

import asyncio
import gc
import re
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from tests.factories import FakeClock, tick
from tocns import scheduler
from tocns.app import BotApp, hold_full_collections, scheduled_jobs
from tocns.core.jobs import ScheduledJob
from tocns.core.roles import Level, Role
from tocns.features.directives import store as directive_store
from tocns.features.org import store as org_store


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
        beside = False
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


async def test_on_postgresql_the_summary_draws_beside_the_other_jobs_which_take_turns(
    app: BotApp, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
) -> None:
    # The weekly summary's drawing (in the drawing processes) runs while the digests and reminders are built, so a
    # busy Monday lasts as long as the drawing; the digests and reminders take turns, so their database work never
    # runs two at a time beside it. SQLite has one writer: every job takes its turn.
    steps: list[str] = []
    others_done = asyncio.Event()

    async def summary(_bot: Any, _now: datetime) -> list[str]:
        steps.append("summary starts")
        try:
            await asyncio.wait_for(others_done.wait(), timeout=1)  # the drawing, finished once the others are
            steps.append("summary ends")
        except TimeoutError:
            steps.append("summary ends alone")
        return ["summary sent"]

    def in_turn(name: str) -> Any:
        async def run(_bot: Any, _now: datetime) -> list[str]:
            steps.append(f"{name} starts")
            await asyncio.sleep(0)  # a statement sent: the loop is free meanwhile
            steps.append(f"{name} ends")
            if name == "reminders":
                others_done.set()
            return [f"{name} sent"]

        return run

    jobs = [ScheduledJob("summary", summary, beside=True)]
    jobs += [ScheduledJob(name, in_turn(name)) for name in ("digest", "reminders")]
    monkeypatch.setattr(scheduler, "scheduled_jobs", lambda: jobs)
    assert await scheduler.run_due_jobs(app) == ["summary sent", "digest sent", "reminders sent"]
    turns = ["digest starts", "digest ends", "reminders starts", "reminders ends"]
    if is_postgres:
        assert steps == ["summary starts", *turns, "summary ends"]
    else:
        assert steps == ["summary starts", "summary ends alone", *turns]


async def test_after_an_outage_the_jobs_in_turn_wait_for_the_retry(
    app: BotApp, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
) -> None:
    # The database away: the next jobs would each meet it too, one connection timeout after the other, and the
    # minute's retry would come that much later. They run in the retry, once the database is back.
    if not is_postgres:
        pytest.skip("SQLite's jobs all take their turn, each retried with the tick")
    ran: list[str] = []
    outages = [OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))]

    async def digest(_bot: Any, _now: datetime) -> list[str]:
        ran.append("digest")
        if outages:
            raise outages.pop()
        return ["digest sent"]

    async def reminders(_bot: Any, _now: datetime) -> list[str]:
        ran.append("reminders")
        return ["reminders sent"]

    jobs = [ScheduledJob("digest", digest), ScheduledJob("reminders", reminders)]
    monkeypatch.setattr(scheduler, "scheduled_jobs", lambda: jobs)
    with pytest.raises(scheduler.JobsUnreachable):
        await scheduler.run_due_jobs(app)
    assert ran == ["digest"]
    assert await scheduler.run_due_jobs(app) == ["digest sent", "reminders sent"]
    assert ran == ["digest", "digest", "reminders"]


async def test_the_weekly_summary_is_the_job_that_draws_beside_the_others() -> None:
    # Only the job that waits for the drawing processes; a digest beside the reminders crowds PostgreSQL's cores.
    assert [job.name for job in scheduled_jobs() if job.beside] == ["weekly_summary"]


async def _grow(app: BotApp, clock: FakeClock, first: int, count: int, directive_at: str) -> None:
    """Add communes `first`..`first + count - 1` under P01 (two teams, a bound group, a leader reached privately),
    then a directive to every commune group at `directive_at`."""
    async with app.db.session() as session:
        province = await org_store.get_unit_by_code(session, "P01")
        if province is None:
            province = await org_store.create_unit(session, code="P01", name="Tỉnh Thử", level=Level.PROVINCE)
            await org_store.bind_chat(session, platform="telegram", chat_id="-1", unit=province, person=None)
        for number in range(first, first + count):
            commune = await org_store.create_unit(
                session, code=f"X{number}", name=f"Xã {number}", level=Level.COMMUNE, parent=province
            )
            for team in ("Thôn 1", "Thôn 2"):
                await org_store.add_team(session, commune.code, team)
            group = f"-{100 + number}"
            await org_store.bind_chat(session, platform="telegram", chat_id=group, unit=commune, person=None)
            leader = await org_store.upsert_person(
                session, platform="telegram", user_id=f"u{number}", display_name=f"Chủ tịch {number}",
                private_chat_id=f"u{number}",
            )  # fmt: skip
            await org_store.set_membership(session, person=leader, unit=commune, role=Role.COMMUNE_LEADER)
        clock.set_local(directive_at)
        communes = await org_store.active_units(session, Level.COMMUNE)
        directive = await directive_store.create_directive(
            session, text="Rà soát hộ chưa có VNeID", scope_label="toàn tỉnh", person=None, now=clock()
        )
        await directive_store.queue_targets(session, directive, communes, now=clock(), message="Rà soát")


async def _counted(app: BotApp, clock: FakeClock, local: str) -> list[str]:
    """The statements of one tick at `local`, which must enqueue nothing."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await tick(app, clock, local) == [], local
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", record)
    return seen


async def _week(app: BotApp, clock: FakeClock, monday: int, saturday: int, friday: int) -> list[list[str]]:
    """The busy moments of a December week (digests, summary, reminders, nudge), and the statements of an idle
    Monday afternoon, Tuesday and Saturday morning after them."""
    lines = await tick(app, clock, f"2026-12-{monday:02d} 08:00")
    lines += await tick(app, clock, f"2026-12-{monday:02d} 11:00")
    assert any(line.startswith("commune_digest") for line in lines) and any("weekly_summary" in line for line in lines)
    assert any(line.startswith("nhắc chỉ đạo") for line in lines)
    nudges = await tick(app, clock, f"2026-12-{friday:02d} 16:00")
    assert any(line.startswith("nhắc tổ chưa báo cáo") for line in nudges)
    return [
        await _counted(app, clock, f"2026-12-{monday:02d} 15:37"),
        await _counted(app, clock, f"2026-12-{monday + 1:02d} 14:37"),
        await _counted(app, clock, f"2026-12-{saturday:02d} 10:00"),
    ]


# What an idle minute must not read: the units, chats, people and directive targets grow with the country.
GROWING_TABLES = re.compile(r"\b(FROM|JOIN) (org_unit|chat_binding|person|membership|directive_target|outbox)\b")


async def test_an_idle_minute_costs_the_same_few_statements_whatever_the_number_of_units(
    app: BotApp, clock: FakeClock
) -> None:
    await _grow(app, clock, 1, 2, "2026-12-06 10:00")
    small = await _week(app, clock, monday=7, friday=11, saturday=12)
    await _grow(app, clock, 3, 10, "2026-12-13 10:00")  # six times the communes, groups, leaders and targets
    large = await _week(app, clock, monday=14, friday=18, saturday=19)
    # Monday after the digests and the summary, Tuesday with a directive's reminders sent, Saturday in the nudge's
    # window: each minute reads what is due through indexes and one row per job, never the units or the targets.
    assert [len(s) for s in small] == [len(s) for s in large], (small, large)
    assert all(len(s) <= 20 for s in large), large
    growing = [s for minute in small + large for s in minute if GROWING_TABLES.search(s)]
    assert growing == [], growing


async def test_in_a_process_that_holds_full_collections_they_wait_for_the_end_of_the_minute(
    app: BotApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs process's loop also sends: a full collection in the middle of a busy tick stalled it ~200 ms at
    national scale. Held, the minute's garbage (cycles here) waits, and the tick's end collects it."""
    generations: list[int] = []
    during: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    async def busy_jobs(bot: BotApp, now: datetime | None = None, wait: bool = False) -> list[str]:
        rows: list[list[Any]] = []  # what a busy job holds while it works: objects that live through collections
        for _ in range(300_000):
            row: list[Any] = [None]
            row[0] = row  # and cycles among them, which only the collector frees
            rows.append(row)
        during.extend(generations)
        return []

    monkeypatch.setattr(scheduler, "run_due_jobs", busy_jobs)
    thresholds = gc.get_threshold()
    # As a served process settles (tocns.app.settle_for_serving): start-up's objects frozen, out of every count.
    gc.collect()
    gc.freeze()
    gc.collect()
    gc.callbacks.append(seen)
    try:
        release = hold_full_collections()
        await scheduler.tick(app)
        assert during and 2 not in during, "a full collection ran in the middle of the minute"
        assert generations[-1] == 2  # the minute ended with the full collection
        # Not held (a test's app, a CLI): the collector keeps its own rhythm (it may run a full collection any
        # time), the tick forces none.
        release()
        assert gc.get_threshold() == thresholds
        forced: list[int] = []
        monkeypatch.setattr(gc, "collect", lambda generation=2: forced.append(generation) or 0)
        monkeypatch.setattr(scheduler, "run_due_jobs", lambda *_a, **_k: asyncio.sleep(0, result=[]))
        await scheduler.tick(app)
        assert forced == []
    finally:
        gc.callbacks.remove(seen)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
