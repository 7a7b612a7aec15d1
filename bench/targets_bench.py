"""Benchmark (not a test): the weekly province report with targets and progress against the same report without.

The data of bench/report_bench.py (1 province, 100 communes, 1,000 teams, a year of records, ~500,000 items),
loaded with the monthly-total triggers of migration 0015 active. Then, in the same run and interleaved:

- baseline: `unit_report` with the progress step taken out (the report as it was before targets);
- no targets: the report as it is now, on a database with no target (one extra lookup);
- VNeID targets: a province target, 100 commune targets and 1,000 team targets (the split) on VNeID;
- every indicator: the same on all ten indicators (11,110 targets).

It checks progress against an independent year-to-date aggregate over the raw records.

    python bench/targets_bench.py --db sqlite --repeat 9
    python bench/targets_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_targets --repeat 9
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import recreate_postgres_database
from report_bench import END, INDICATORS, _generate
from sqlalchemy import text

from tocns.config import Settings
from tocns.core.period import week_of
from tocns.db.engine import Database, upgrade_database
from tocns.features.org.models import OrgUnit
from tocns.features.reports import service as report_service
from tocns.features.targets.service import Progress

YTD = """
SELECT SUM(i.quantity) FROM activity_record r JOIN activity_item i ON i.record_id = r.id
WHERE r.deleted_at IS NULL AND i.indicator_id = :ind AND r.activity_date BETWEEN :lo AND :hi
"""


async def _targets(db: Database, indicators: list[int]) -> None:
    """A target per unit (province, communes, teams) and indicator for 2026."""
    async with db.session() as session:
        conn = await session.connection()
        await conn.execute(text("DELETE FROM target"))
        units = (await conn.execute(text("SELECT id, level FROM org_unit"))).all()
        value = {"province": 120_000, "commune": 1_200, "team": 120}
        rows = [
            {"u": uid, "i": ind, "v": value[level], "t": datetime(2026, 1, 1, tzinfo=UTC)}
            for uid, level in units
            for ind in indicators
        ]
        if not rows:
            await session.commit()
            return
        await conn.execute(
            text(
                "INSERT INTO target (org_unit_id, indicator_id, year, month, value, created_at) "
                "VALUES (:u, :i, 2026, 0, :v, :t)"
            ),
            rows,
        )
        await session.commit()


async def _bench(url: str, records: int, repeat: int, reuse: bool) -> None:
    generation = 0.0
    if not reuse:
        if url.startswith("sqlite"):
            Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
        else:
            await recreate_postgres_database(url)
        await asyncio.to_thread(upgrade_database, url)
    db = Database(url)
    if not reuse:
        t = time.perf_counter()
        await _generate(db, records)
        generation = time.perf_counter() - t
    if not db.is_sqlite:
        # The bulk load updated each monthly total hundreds of times in seconds; autovacuum would clear the dead
        # row versions in production long before a weekly report. Without it the covering index is no help.
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute("VACUUM ANALYZE activity_month_total")
        finally:
            await conn.close()
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    period = week_of(END)
    real_progress = report_service.unit_progress

    async def no_progress(session: object, unit: OrgUnit, as_of: object) -> Progress:
        return Progress(unit_code=unit.code, year=2026, as_of=END)

    async def run(session: object, province: OrgUnit, baseline: bool) -> tuple[float, object]:
        report_service.unit_progress = no_progress if baseline else real_progress  # type: ignore[assignment]
        t, cpu = time.perf_counter(), time.process_time()
        report = await report_service.unit_report(session, province, period, settings, now)  # type: ignore[arg-type]
        cpu_times[baseline].append(time.process_time() - cpu)
        return time.perf_counter() - t, report

    # CPU seconds of the process (the SQLite thread included): far less sensitive to the shared machine's load.
    cpu_times: dict[bool, list[float]] = {True: [], False: []}
    figures: dict[str, list[float]] = {"baseline": [], "no targets": [], "VNeID targets": [], "every indicator": []}
    cpu_lines: list[str] = []
    for scenario, indicators in (("no targets", []), ("VNeID targets", [2]), ("every indicator", list(range(1, 11)))):
        await _targets(db, indicators)
        async with db.session() as session:
            province = await session.get(OrgUnit, 1)
            assert province is not None
            for _ in range(repeat):
                seconds, _r = await run(session, province, baseline=True)
                figures["baseline"].append(seconds)
                seconds, report = await run(session, province, baseline=False)
                figures[scenario].append(seconds)
            cpu_base = statistics.median(cpu_times[True][-repeat:])
            cpu_with = statistics.median(cpu_times[False][-repeat:])
            cpu_lines.append(
                f"  CPU, {scenario}: {cpu_with * 1000:.0f} ms against {cpu_base * 1000:.0f} ms; "
                f"ratio {cpu_with / cpu_base:.2f}x"
            )
            if indicators:
                progress = report.progress  # type: ignore[attr-defined]
                conn = await session.connection()
                lo, hi = ("2026-01-01", END.isoformat()) if db.is_sqlite else (datetime(2026, 1, 1).date(), END)
                for row in progress.yearly(0):
                    ind = INDICATORS.index(row.indicator) + 1
                    expected = (await conn.execute(text(YTD), {"ind": ind, "lo": lo, "hi": hi})).scalar_one()
                    assert row.done == expected, (row.indicator, row.done, expected)
                print(f"  {scenario}: {len(progress.rows):,} progress rows; province {progress.yearly(0)[0].done:,}")
    report_service.unit_progress = real_progress
    await db.dispose()
    if db.is_sqlite:
        print("\n".join(cpu_lines))  # with PostgreSQL the work is in the server's process, not this one
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    base = statistics.median(figures["baseline"])
    print(f"{backend}: {records:,} records; generation (with the triggers) {generation:.1f} s; median of {repeat}")
    print(f"  weekly province report without progress (baseline): {base * 1000:.0f} ms")
    for name in ("no targets", "VNeID targets", "every indicator"):
        value = statistics.median(figures[name])
        print(f"  with progress, {name}: {value * 1000:.0f} ms; ratio {value / base:.2f}x")


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (database recreated)")
    parser.add_argument("--records", type=int, default=250_000, help="records (2 items each)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run (no generation)")
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_targets.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url, args.records, args.repeat, args.reuse))


if __name__ == "__main__":
    main()
