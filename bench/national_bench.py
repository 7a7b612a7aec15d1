"""National benchmark (not a test): scheduler ticks and reports on the data `bench/national_gen.py` loaded.

On an existing generated database (not recreated; only the outbox is emptied first, so every run starts from the
same state) it times:

  busy tick: Monday 23/11/2026 08:00 (reminders, escalations, digests, the weekly summary), statements and seconds;
  idle tick: Tuesday 24/11/2026 14:37 after a tick at 14:00 (nothing due): statements and seconds, best of --repeat;
  reports of the week 16-22/11/2026 (with the previous week for the change) for the whole country, the largest
  province and a commune of median size, each against a hand-written aggregate over the raw rows in the same run
  (the same two weeks, one plain GROUP BY with the subtree filter an index can use), median of --repeat; with
  --rotate N, each round takes the next of the N largest provinces and of the N communes nearest the median size
  (a unit's first report, as most are), and the CPU time of this process plus the database backend's besides the
  wall time (what a loaded machine disturbs least).

The country is the national unit when the database has one (level "national" or "country"); otherwise an unsaved
root unit with the path "/" (every team under it; no child rows, the same aggregate work).

    python bench/national_bench.py --url postgresql+asyncpg://postgres@127.0.0.1:5432/national
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from _common import StallSampler, watch_loop
from sqlalchemy import event, text

import tocns.all_models  # noqa: F401  (every table known)
from tocns import scheduler
from tocns.app import BotApp, collect_between_ticks, hold_full_collections
from tocns.config import Settings
from tocns.core.dates import is_holiday
from tocns.core.jobs import ScheduledJob
from tocns.core.period import week_of
from tocns.db.engine import Database
from tocns.features.org.models import OrgUnit
from tocns.features.reports import files as report_files
from tocns.features.reports.service import unit_report
from tocns.scheduler import run_due_jobs

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BUSY = datetime(2026, 11, 23, 8, 0, tzinfo=TZ)
WARM = datetime(2026, 11, 24, 14, 0, tzinfo=TZ)
IDLE = datetime(2026, 11, 24, 14, 37, tzinfo=TZ)
WEEK = week_of(date(2026, 11, 22))
NOW = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/national"

HAND_AGGREGATE = """
SELECT i.indicator_id,
       SUM(CASE WHEN r.activity_date >= :start THEN i.quantity ELSE 0 END),
       SUM(CASE WHEN r.activity_date < :start THEN i.quantity ELSE 0 END),
       COUNT(DISTINCT r.org_unit_id)
FROM activity_record r JOIN activity_item i ON i.record_id = r.id JOIN org_unit t ON t.id = r.org_unit_id
WHERE r.deleted_at IS NULL AND r.activity_date BETWEEN :pstart AND :end AND t.path LIKE :like
GROUP BY i.indicator_id
"""


async def _units(db: Database, rotate: int) -> list[tuple[str, list[OrgUnit], int]]:
    """The country, the province with most teams and a commune of median size: (label, units, teams).

    With `rotate` > 1 the province and the commune come with the next largest provinces and the communes nearest the
    median size (`rotate` units in all): the rounds go through them, as reports for many units do.
    """
    async with db.session() as session:
        conn = await session.connection()
        national = (
            await conn.execute(text("SELECT id FROM org_unit WHERE level IN ('national', 'country') LIMIT 1"))
        ).scalar()
        # Teams per commune, and per province through its communes (the generated tree is province/commune/team).
        communes = sorted(
            (int(n), c, int(p))
            for c, p, n in (
                await conn.execute(
                    text(
                        "SELECT c.id, c.parent_id, COUNT(*) FROM org_unit t JOIN org_unit c ON c.id = t.parent_id "
                        "WHERE t.level = 'team' AND c.level = 'commune' GROUP BY c.id, c.parent_id"
                    )
                )
            ).all()
        )
        teams = sum(n for n, _, _ in communes)
        by_province: dict[int, int] = {}
        for n, _, p in communes:
            by_province[p] = by_province.get(p, 0) + n
        provinces = sorted(((n, p) for p, n in by_province.items()), reverse=True)[:rotate]
        country = await session.get(OrgUnit, national) if national else None
        if country is None:
            country = OrgUnit(id=0, code="VN", name="Toàn quốc", name_folded="toan quoc", level="national", path="/")
        mid = len(communes) // 2
        # The median commune first, then its neighbours in size, alternately above and below.
        near = sorted(range(len(communes)), key=lambda i: (abs(i - mid), i))[:rotate]
        province_units = [u for _, p in provinces if (u := await session.get(OrgUnit, p)) is not None]
        commune_units = [u for i in near if (u := await session.get(OrgUnit, communes[i][1])) is not None]
        more = f" and {rotate - 1} more" if rotate > 1 else ""
        return [
            ("country", [country], teams),
            (f"province {province_units[0].name}{more}", province_units, provinces[0][0]),
            (f"commune {commune_units[0].name}{more}", commune_units, communes[mid][0]),
        ]


def _backend_cpu(pid: int) -> Callable[[], float]:
    """Seconds of CPU the PostgreSQL backend `pid` has used (from /proc, so only for a server on this machine)."""

    def read() -> float:
        try:
            with open(f"/proc/{pid}/schedstat", encoding="ascii") as f:
                return int(f.read().split()[0]) / 1e9
        except OSError:
            return float("nan")

    return read


async def bench_reports(db: Database, settings: Settings, repeat: int, rotate: int) -> None:
    """Each level's weekly report against the hand-written aggregate, in the same run.

    The report is timed as a text, a chart or a page reads it (`team_rows=False`: sums per child unit) and with
    every team's figures (the workbook's "Theo tổ" sheet); the three are alternated run by run, on the same unit in
    a round (the next unit in the next round with --rotate). Besides the wall time, the CPU time of this process
    plus the database backend's (read from /proc when PostgreSQL runs here): on a loaded machine it moves far less.
    """
    params = {"start": WEEK.start, "end": WEEK.end, "pstart": WEEK.previous().start}
    for label, units, teams in await _units(db, rotate):
        async with db.session() as session:
            conn = await session.connection()
            backend = _backend_cpu(int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()))
            turn = [0]

            def report(
                rows: bool, s: Any = session, us: list[OrgUnit] = units, turn: list[int] = turn
            ) -> Awaitable[Any]:
                return unit_report(s, us[turn[0] % len(us)], WEEK, settings, NOW, team_rows=rows)

            def hand(c: Any = conn, us: list[OrgUnit] = units, turn: list[int] = turn) -> Awaitable[Any]:
                return c.execute(text(HAND_AGGREGATE), {**params, "like": f"{us[turn[0] % len(us)].path}%"})

            (
                (report_s, report_c, report_b, summary),
                (full_s, full_c, full_b, _full),
                (hand_s, hand_c, hand_b, result),
            ) = await _alternated(repeat, [lambda: report(False), lambda: report(True), hand], backend, turn)
            rows = result.all()
        assert sum(int(r[1]) for r in rows) == summary.total_quantity, (label, "report and hand aggregate disagree")
        print(
            f"  {label} ({teams:,} teams) weekly report: {report_s * 1000:,.1f} ms; with team rows "
            f"{full_s * 1000:,.1f} ms; hand aggregate {hand_s * 1000:,.1f} ms; ratios {report_s / hand_s:.2f}x, "
            f"{full_s / hand_s:.2f}x (median of {repeat}; week total {summary.total_quantity:,})\n"
            f"    CPU (this process + backend): {report_c * 1000:,.2f} / {full_c * 1000:,.2f} / "
            f"{hand_c * 1000:,.2f} ms; "
            f"ratios {report_c / hand_c:.2f}x, {full_c / hand_c:.2f}x; of which the backend's {report_b * 1000:,.2f} / "
            f"{full_b * 1000:,.2f} / {hand_b * 1000:,.2f} ms",
            flush=True,
        )


async def _alternated(
    repeat: int, works: list[Callable[[], Awaitable[Any]]], backend: Callable[[], float], turn: list[int]
) -> list[tuple[float, float, float, Any]]:
    """Median wall seconds, CPU seconds (this process + `backend`) and the backend's CPU seconds of each work over
    `repeat` rounds (one warm-up round first), run in turn so load hits all; `turn` holds the round's number."""
    results = [await work() for work in works]
    samples: list[list[float]] = [[] for _ in works]
    cpu: list[list[float]] = [[] for _ in works]
    on_server: list[list[float]] = [[] for _ in works]
    for n in range(repeat):
        turn[0] = n + 1
        for i, work in enumerate(works):
            c, b, t = time.process_time(), backend(), time.perf_counter()
            results[i] = await work()
            samples[i].append(time.perf_counter() - t)
            server = backend() - b
            cpu[i].append(time.process_time() - c + server)
            on_server[i].append(server)
    return [
        (statistics.median(s), statistics.median(c), statistics.median(b), r)
        for s, c, b, r in zip(samples, cpu, on_server, results, strict=True)
    ]


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far, from /proc (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _backends_cpu(db: Database) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to this database (a server on this machine)."""
    async with db.engine.connect() as conn:
        pids = (
            await conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"))
        ).scalars()
        return {pid: _backend_cpu(pid)() for pid in pids}


def _drawing_cpu() -> float:
    """CPU seconds so far of the drawing pool's processes (reports.files), 0 when none was started."""
    pool = report_files._pool
    return sum(_proc_cpu(pid) for pid in (pool._processes or {})) if pool is not None else 0.0


async def _tick(
    app: BotApp, at: datetime, counter: list[int], stalls: list[float] | None = None
) -> tuple[int, float, int]:
    counter[0] = 0
    stop = asyncio.Event()
    sampler = SAMPLER if stalls is not None else None
    watcher = asyncio.create_task(watch_loop(stalls if stalls is not None else [], stop, sampler))
    t = time.perf_counter()
    with sampler or contextlib.nullcontext():
        try:
            lines = await run_due_jobs(app, at.astimezone(UTC), wait=True)
        finally:
            secs = time.perf_counter() - t
            stop.set()
            await watcher
    return counter[0], secs, len(lines)


# --sample-stalls: what the loop was busy with while it stalled during the busy tick.
SAMPLER: StallSampler | None = None


def _timed_jobs(
    counter: list[int], stalls: list[float], skip: set[str], lines: list[str]
) -> Callable[[], list[ScheduledJob]]:
    """The scheduler's jobs minus `skip`, each adding a line to `lines`: its statements, seconds, longest stall."""
    jobs = scheduler.scheduled_jobs

    def wrap(job: ScheduledJob) -> ScheduledJob:
        async def run(app: Any, now: datetime) -> list[str]:
            first, begun, t = counter[0], len(stalls), time.perf_counter()
            out = await job.run(app, now)
            secs, longest = time.perf_counter() - t, max(stalls[begun:], default=0)
            lines.append(
                f"    {job.name}: {len(out):,} lines, {counter[0] - first:,} statements, {secs:.2f} s, "
                f"longest stall {longest * 1000:,.0f} ms"
            )
            return out

        return dataclasses.replace(job, run=run)

    return lambda: [wrap(job) for job in jobs() if job.name not in skip]


async def bench_ticks(
    db: Database,
    settings: Settings,
    repeat: int,
    busy: bool,
    skip: frozenset[str] | set[str] = frozenset(),
    freeze: bool = False,
    hold: bool = False,
) -> None:
    """The busy Monday tick once (each job's figures too; the jobs in `skip` left out), then the idle tick (best
    of `repeat`)."""
    async with db.engine.begin() as conn:
        # The jobs' dedupe keys live in the outbox, and a finished job's mark in job_done (migration 0024): emptying
        # both makes every run start from the generated state (else the second run skips the digests and summaries).
        await conn.execute(text("DELETE FROM outbox"))
        await conn.execute(text("DELETE FROM job_done"))
    app = BotApp.build(settings, db)
    counter = [0]

    def count(*_args: object) -> None:
        counter[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    if busy:
        # The holiday table (the `holidays` package's Vietnamese calendar) is built on first use, once per process
        # and year, on the loop: timed apart so the tick's stalls are the jobs' own.
        t = time.perf_counter()
        is_holiday(BUSY.date())
        print(f"  holiday table built on first use: {(time.perf_counter() - t) * 1000:,.0f} ms (once per process)")
        stalls: list[float] = []
        per_job: list[str] = []
        # The collector's pauses, to tell a full collection (the whole heap, on the loop) from the jobs' own work.
        pauses: list[tuple[float, int]] = []  # (seconds, generation)
        started = [0.0]

        def collected(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append((time.perf_counter() - started[0], info["generation"]))

        if freeze:
            # What a server would do once started: the objects of the imports and the app out of every collection.
            gc.collect()
            gc.freeze()
        gc.callbacks.append(collected)  # after the freeze's own collection, which is not the tick's
        thresholds = gc.get_threshold()
        if hold:
            # What the jobs process does: no full collection inside the minute, one after its jobs.
            hold_full_collections()
        every_job = scheduler.scheduled_jobs
        scheduler.scheduled_jobs = _timed_jobs(counter, stalls, skip, per_job)  # type: ignore[assignment]
        report_files.shutdown_render_pool()
        cpu, backends = time.process_time(), await _backends_cpu(db)
        try:
            stmts, secs, sent = await _tick(app, BUSY, counter, stalls)
            own, drawing = time.process_time() - cpu, _drawing_cpu()
            after = await _backends_cpu(db)
            server = sum(v - backends.get(pid, 0.0) for pid, v in after.items())
        finally:
            scheduler.scheduled_jobs = every_job  # type: ignore[assignment]
            gc.callbacks.remove(collected)
        t = time.perf_counter()
        collect_between_ticks()
        after_tick = time.perf_counter() - t
        gc.set_threshold(*thresholds)
        print(
            f"  busy tick Mon 23/11 08:00: {sent:,} messages enqueued, {stmts:,} statements, {secs:.2f} s; "
            f"longest loop stall {max(stalls, default=0) * 1000:,.0f} ms, "
            f"{sum(s for s in stalls if s > 0.1):.2f} s in stalls over 100 ms"
            + (f" (without {', '.join(sorted(skip))})" if skip else ""),
            flush=True,
        )
        print("\n".join(per_job), flush=True)
        longest = max(pauses, default=(0.0, 0))
        full = [p for p, generation in pauses if generation == 2]
        print(
            f"    longest garbage collection during the tick: {longest[0] * 1000:,.0f} ms (generation {longest[1]}); "
            f"{len(pauses):,} collections, {len(full)} full ({sum(full) * 1000:,.0f} ms)",
            flush=True,
        )
        if hold:
            print(f"    the full collection after the tick (on the loop): {after_tick * 1000:,.0f} ms", flush=True)
        if SAMPLER is not None:
            print(SAMPLER.report(), flush=True)
        print(
            f"    CPU during the tick: this process {own:.1f} s, the drawing processes {drawing:.1f} s, PostgreSQL "
            f"backends of this database {server:.1f} s; total {own + drawing + server:.1f} s",
            flush=True,
        )
    await _tick(app, WARM, counter)
    idle = [await _tick(app, IDLE, counter) for _ in range(repeat)]
    best = min(idle, key=lambda r: r[1])
    assert all(r[2] == 0 for r in idle), "the idle tick enqueued something"
    print(f"  idle tick Tue 24/11 14:37: {best[0]:,} statements, {best[1] * 1000:.0f} ms (best of {repeat})")
    event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def _bench(
    url: str,
    repeat: int,
    busy: bool,
    ticks: bool,
    reports: bool,
    rotate: int,
    skip: set[str],
    freeze: bool,
    hold: bool,
    keep: str | None = None,
) -> None:
    db = Database(url)
    files = keep or tempfile.mkdtemp(prefix="national-bench-")
    settings = Settings(_env_file=None, database_url=url, files_dir=files, auto_migrate=False)  # type: ignore[call-arg]
    try:
        async with db.engine.connect() as conn:
            items, teams = (
                await conn.execute(
                    text("SELECT (SELECT COUNT(*) FROM activity_item), "
                         "(SELECT COUNT(*) FROM org_unit WHERE level = 'team')")
                )
            ).one()  # fmt: skip
        print(f"PostgreSQL: {teams:,} teams, {items:,} items", flush=True)
        if reports:
            await bench_reports(db, settings, repeat, rotate)
        if ticks:
            await bench_ticks(db, settings, repeat, busy, skip, freeze, hold)
    finally:
        await db.dispose()
        if keep is None:
            shutil.rmtree(files, ignore_errors=True)


def main() -> None:
    """Parse arguments and run the benchmark on the generated database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="the postgresql+asyncpg URL national_gen.py loaded")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--no-busy", action="store_true", help="skip the busy Monday tick (minutes at full scale)")
    parser.add_argument("--no-ticks", action="store_true", help="reports only (no tick at all)")
    parser.add_argument("--no-reports", action="store_true", help="ticks only")
    parser.add_argument(
        "--rotate", type=int, default=1, help="reports: go through this many provinces and communes, one per round"
    )
    parser.add_argument(
        "--skip-job", action="append", default=[], metavar="NAME",
        help="leave this job out of the busy tick (repeatable), e.g. weekly_summary to time the others",
    )  # fmt: skip
    parser.add_argument(
        "--gc-freeze", action="store_true",
        help="gc.freeze() before the busy tick (the start-up objects left out of every garbage collection)",
    )  # fmt: skip
    parser.add_argument(
        "--hold-gc", action="store_true",
        help="as the jobs process: no full garbage collection during the tick, one after it (timed)",
    )  # fmt: skip
    parser.add_argument(
        "--switch-interval", type=float, default=None, metavar="SECONDS",
        help="sys.setswitchinterval for the run (CPython's default 0.005): how long a thread may keep the GIL",
    )  # fmt: skip
    parser.add_argument(
        "--sample-stalls", action="store_true",
        help="sample the loop's stack while it stalls (50 ms or more) during the busy tick; print the top places",
    )  # fmt: skip
    parser.add_argument(
        "--split-stalls", action="store_true",
        help="split each stall of 50 ms or more into the loop thread's running, waiting for a CPU and asleep (Linux)",
    )  # fmt: skip
    parser.add_argument(
        "--keep-files", metavar="DIR", default=None,
        help="FILES_DIR of the run, kept afterwards (the drawn files, to compare two trees' outputs)",
    )  # fmt: skip
    args = parser.parse_args()
    busy, ticks, reports = not args.no_busy, not args.no_ticks, not args.no_reports
    skip, freeze = set(args.skip_job), args.gc_freeze
    if args.sample_stalls or args.split_stalls:
        global SAMPLER
        SAMPLER = StallSampler(stacks=args.sample_stalls)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    asyncio.run(
        _bench(args.url, args.repeat, busy, ticks, reports, args.rotate, skip, freeze, args.hold_gc, args.keep_files)
    )


if __name__ == "__main__":
    main()
