"""Benchmark (not a test): weekly reports of a commune, a province and the country, and the Excel export.

Generates a country (a root unit) of N provinces, each 100 communes of 10 teams, 5,000 members per province and a
year of records (2 items each) with bulk loads, rebuilds the rollups, then times each report (read from the
rollups) against a hand-written single SQL aggregate over the raw rows of the same unit and weeks, in the same run.

    python bench/report_bench.py --db sqlite
    python bench/report_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reports --provinces 4
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _common import recreate_postgres_database
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from tocns.config import Settings
from tocns.core.period import Period, week_of
from tocns.db.engine import Database, upgrade_database
from tocns.features.org.models import OrgUnit
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import Report, build_report, stream_raw_records
from tocns.features.reports.workbook import write_workbook
from tocns.features.rollups import store as rollup_store

COMMUNES, TEAMS_PER_COMMUNE, MEMBERS = 100, 10, 5000
"""Per province; the first province (code P99, id 2) is the one exported."""
INDICATORS = ["dvc", "vneid", "thanhtoan", "tmdt", "nentang", "suckhoe", "bhxh", "attt", "taphuan", "khac"]
END = date(2026, 11, 22)
DAYS = 365

# The same rows the report reads (this week and the previous one, for the change), in one plain GROUP BY.
HAND_AGGREGATE = """
SELECT i.indicator_id,
       SUM(CASE WHEN r.activity_date >= :start THEN i.quantity ELSE 0 END),
       SUM(CASE WHEN r.activity_date < :start THEN i.quantity ELSE 0 END),
       COUNT(DISTINCT r.org_unit_id)
FROM activity_record r JOIN activity_item i ON i.record_id = r.id JOIN org_unit t ON t.id = r.org_unit_id
WHERE r.deleted_at IS NULL AND r.activity_date BETWEEN :pstart AND :end AND t.path {like} :prefix
GROUP BY i.indicator_id
"""
# The rollups as migration 0019's triggers would have written them, and the monthly totals as 0018's: the bulk load
# runs with the triggers off (one trigger call per row would dominate the load).
MONTH_TOTALS = """
INSERT INTO activity_month_total (org_unit_id, indicator_id, month, quantity)
SELECT r.org_unit_id, i.indicator_id, {month}, SUM(i.quantity) FROM activity_record r
JOIN activity_item i ON i.record_id = r.id WHERE r.deleted_at IS NULL GROUP BY r.org_unit_id, i.indicator_id, {month}
"""


def _units(provinces: int) -> tuple[list[tuple], list[int]]:
    """The country (id 1), its provinces (P99 first, id 2), their communes and teams; and the team ids."""
    units: list[tuple] = [(1, "VN", "Cả nước", "ca nuoc", "country", None, "/1/", 0)]
    teams: list[int] = []
    uid = 2
    for p in range(provinces):
        pid, pcode = uid, f"P{99 - p:02d}"
        units.append((pid, pcode, f"Tỉnh Thử {p + 1}", f"tinh thu {p + 1}", "province", 1, f"/1/{pid}/", 1))
        uid += 1
        for c in range(COMMUNES):
            cid = uid
            units.append((cid, f"{pcode}C{c:03d}", f"Xã {c:03d}", f"xa {c:03d}", "commune", pid, f"/1/{pid}/{cid}/", 2))
            uid += 1
            for t in range(TEAMS_PER_COMMUNE):
                code = f"{pcode}C{c:03d}-T{t + 1:02d}"
                path = f"/1/{pid}/{cid}/{uid}/"
                units.append((uid, code, f"Thôn {t + 1}", f"thon {t + 1}", "team", cid, path, 3))
                teams.append(uid)
                uid += 1
    return units, teams


def _rows(
    seed: int, records: int, provinces: int
) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple], list[tuple]]:
    rnd = random.Random(seed)
    units, teams = _units(provinces)
    members = MEMBERS * provinces
    people = [(p + 1, "bench", f"u{p + 1}", f"Thành viên {p + 1}") for p in range(members)]
    indicators = [(k + 1, code, code.upper(), "lượt", k) for k, code in enumerate(INDICATORS)]
    recs: list[tuple] = []
    items: list[tuple] = []
    item_id = 1
    for rid in range(1, records + 1):
        person = rnd.randint(1, members)
        team = teams[(person - 1) // 5 % len(teams)]
        day = END - timedelta(days=rnd.randrange(DAYS))
        created = datetime(day.year, day.month, day.day, 3, tzinfo=UTC) + timedelta(hours=rnd.randint(0, 80))
        deleted = created + timedelta(hours=1) if rnd.random() < 0.03 else None
        recs.append((rid, person, team, day, "bench", "g", str(rid), created, deleted))
        for ind in rnd.sample(range(1, 11), 2):
            items.append((item_id, rid, ind, rnd.randint(1, 30)))
            item_id += 1
    return units, people, indicators, recs, items


async def _generate(db: Database, records: int, provinces: int) -> None:
    units, people, indicators, recs, items = _rows(42, records, provinces)
    if db.is_sqlite:
        # The stdlib driver with executemany: UTC text timestamps as SQLAlchemy stores them.
        import sqlite3

        path = db.url.split(":///", 1)[1]
        conn = sqlite3.connect(path)
        conn.executemany(
            "INSERT INTO org_unit (id, code, name, name_folded, level, parent_id, path, depth, active, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,1,'2026-01-01 00:00:00.000000')",
            units,
        )
        conn.executemany(
            "INSERT INTO person (id, platform, user_id, display_name, created_at, last_seen_at) "
            "VALUES (?,?,?,?,'2026-01-01 00:00:00.000000','2026-01-01 00:00:00.000000')",
            people,
        )
        conn.execute("DELETE FROM indicator")  # migration 0015 seeds the default catalogue; the bench has its own
        conn.executemany(
            "INSERT INTO indicator (id, code, name, unit, sort_order, max_per_message, active) "
            "VALUES (?,?,?,?,?,500,1)",
            indicators,
        )

        def ts(v: datetime | None) -> str | None:
            return v.strftime("%Y-%m-%d %H:%M:%S.%f") if v else None

        conn.executemany(
            "INSERT INTO activity_record (id, person_id, org_unit_id, activity_date, platform, chat_id, message_id, "
            "created_at, deleted_at, message_text) VALUES (?,?,?,?,?,?,?,?,?,'')",
            [(*r[:3], r[3].isoformat(), *r[4:7], ts(r[7]), ts(r[8])) for r in recs],
        )
        conn.executemany("INSERT INTO activity_item (id, record_id, indicator_id, quantity) VALUES (?,?,?,?)", items)
        conn.commit()
        # SQLite cannot switch triggers off: they kept both the monthly totals and the rollups during the load.
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for table in ("activity_record", "activity_item"):
            await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        await conn.copy_records_to_table(
            "org_unit",
            records=[(*u, True, t0) for u in units],
            columns=[
                "id",
                "code",
                "name",
                "name_folded",
                "level",
                "parent_id",
                "path",
                "depth",
                "active",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "person",
            records=[(*p, t0, t0) for p in people],
            columns=["id", "platform", "user_id", "display_name", "created_at", "last_seen_at"],
        )
        await conn.execute("DELETE FROM indicator")  # migration 0015 seeds the default catalogue
        await conn.copy_records_to_table(
            "indicator",
            records=[(*i, 500, True, "[]") for i in indicators],
            columns=["id", "code", "name", "unit", "sort_order", "max_per_message", "active", "aliases"],
        )
        await conn.copy_records_to_table(
            "activity_record",
            records=[(*r, "") for r in recs],
            columns=[
                "id", "person_id", "org_unit_id", "activity_date", "platform", "chat_id", "message_id",
                "created_at", "deleted_at", "message_text",
            ],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "activity_item", records=items, columns=["id", "record_id", "indicator_id", "quantity"]
        )
        for table in ("org_unit", "person", "indicator", "activity_record", "activity_item"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    finally:
        await conn.close()
    await _summaries(db)


async def _summaries(db: Database) -> None:
    """Triggers back on, then the monthly totals and the rollups computed once from the loaded rows; ANALYZE."""
    import asyncpg

    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        for table in ("activity_record", "activity_item"):
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        month = "(EXTRACT(YEAR FROM r.activity_date)::int * 100 + EXTRACT(MONTH FROM r.activity_date)::int)"
        await conn.execute(MONTH_TOTALS.format(month=month))
    finally:
        await conn.close()
    async with db.session() as session:
        await rollup_store.rebuild(session)
    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _cli_xlsx(url: str, period: str, target: Path) -> tuple[int, float, int, int]:
    """Run `tocns report P99 --format xlsx` in a child process: (raw rows, seconds, peak RSS in KiB, bytes)."""
    env = {**os.environ, "DATABASE_URL": url, "AUTO_MIGRATE": "false"}
    command = [sys.executable, "-m", "tocns.cli", "report", "P99", "--period", period, "--format", "xlsx"]
    t = time.perf_counter()
    child = subprocess.Popen([*command, "-o", str(target)], env=env, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t
    assert status == 0, stderr
    rows = int(re.search(r"([0-9]+) dòng dữ liệu gốc", stderr).group(1))  # type: ignore[union-attr]
    return rows, seconds, usage.ru_maxrss, target.stat().st_size


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


async def _compare(
    session: AsyncSession, unit: OrgUnit, period: Period, settings: Settings, now: datetime, repeat: int
) -> tuple[float, float, float, Report]:
    """Median seconds of the report, of the hand aggregate over raw rows and of the figures alone; the report."""
    conn = await session.connection()
    sqlite = conn.dialect.name == "sqlite"
    params: dict[str, object] = {"start": period.start, "end": period.end, "pstart": period.previous().start}
    if sqlite:
        params = {k: v.isoformat() for k, v in params.items()}  # type: ignore[attr-defined]
    params["prefix"] = unit.path + ("*" if sqlite else "%")
    hand_sql = text(HAND_AGGREGATE.format(like="GLOB" if sqlite else "LIKE"))
    report_times, hand_times, figures_times = [], [], []
    previous = period.previous()
    for _ in range(repeat):
        t = time.perf_counter()
        report = await unit_report(session, unit, period, settings, now)
        report_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        await build_report(session, unit, (period.start, period.end, previous.start, previous.end), now)
        figures_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        hand = (await conn.execute(hand_sql, params)).all()
        hand_times.append(time.perf_counter() - t)
    assert sum(int(r[1]) for r in hand) == report.total_quantity, f"{unit.code}: report and hand aggregate disagree"
    assert sum(int(r[2]) for r in hand) == sum(t.previous for t in report.totals), "previous totals disagree"
    return _median(report_times), _median(hand_times), _median(figures_times), report


async def _bench(
    url: str, records: int, repeat: int, provinces: int, exports: bool = True, reuse: bool = False
) -> None:
    if reuse:
        db, generation = Database(url), 0.0
    else:
        if url.startswith("sqlite"):
            Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
        else:
            await recreate_postgres_database(url)
        await asyncio.to_thread(upgrade_database, url)
        db = Database(url)
        t = time.perf_counter()
        await _generate(db, records, provinces)
        generation = time.perf_counter() - t
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    period = week_of(END)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    async with db.session() as session:
        conn = await session.connection()
        counts = (
            await conn.execute(text("SELECT (SELECT COUNT(*) FROM activity_item), (SELECT COUNT(*) FROM org_unit)"))
        ).one()
        print(f"{backend}: {counts[0]:,} items, {counts[1]:,} units; generation {generation:.1f} s", flush=True)
        t = time.perf_counter()
        assert reuse or await rollup_store.differences(session) == [], "rollups differ from raw rows"
        if not reuse:
            print(f"  rollups equal to the raw rows (checked in {time.perf_counter() - t:.1f} s)", flush=True)
        units = {
            name: await session.get(OrgUnit, uid) for name, uid in (("commune", 3), ("province", 2), ("country", 1))
        }
        for name, unit in units.items():
            assert unit is not None
            rep, hnd, fig, report = await _compare(session, unit, period, settings, now, repeat)
            print(
                f"  weekly {name} report ({report.teams:,} teams): {rep * 1000:.1f} ms (median of {repeat}); "
                f"hand-written aggregate over raw rows {hnd * 1000:.1f} ms; ratio {rep / hnd:.2f}x; "
                f"figures and tasks (build_report, no target progress) {fig * 1000:.1f} ms, {fig / hnd:.2f}x",
                flush=True,
            )
        province = units["province"]
        assert province is not None
        if exports:
            report = await unit_report(session, province, period, settings, now)
            await _excel(session, province, report, period, settings, repeat)
    await db.dispose()
    if exports:
        await _year_export(url, period)


async def _excel(
    session: AsyncSession, province: OrgUnit, report: Report, period: Period, settings: Settings, repeat: int
) -> None:
    """Time the province's weekly workbook."""
    excel_times = []
    for _ in range(max(1, repeat // 2)):
        t = time.perf_counter()
        buffer = io.BytesIO()
        raw_count = (
            await write_workbook(
                report, stream_raw_records(session, province, period.start, period.end), settings.tz, buffer
            )
        ).raw_rows
        excel_times.append(time.perf_counter() - t)
    print(
        f"  Excel export ({raw_count:,} raw rows, {len(buffer.getvalue()) // 1024} KiB): {_median(excel_times):.2f} s"
    )


async def _year_export(url: str, period: Period) -> None:
    """The real CLI in a child process for a week and for the year: every row kept, streamed, memory flat."""
    year = Period(END - timedelta(days=DAYS - 1), END, "range")
    with tempfile.TemporaryDirectory() as tmp:
        week_rows, _week_time, week_rss, _week_size = _cli_xlsx(
            url, f"{period.start}..{period.end}", Path(tmp) / "t.xlsx"
        )
        year_rows, year_time, year_rss, year_size = _cli_xlsx(url, f"{year.start}..{year.end}", Path(tmp) / "n.xlsx")
    print(
        f"  `tocns report P99 --format xlsx` for the year: {year_rows:,} raw rows, {year_size / 2**20:.1f} MiB, "
        f"{year_time:.1f} s; peak RSS {year_rss / 2**10:.0f} MiB against {week_rss / 2**10:.0f} MiB for the "
        f"week's {week_rows:,} rows ({year_rss / week_rss:.2f}x)"
    )


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (database recreated)")
    parser.add_argument("--records", type=int, default=250_000, help="records (2 items each)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--provinces", type=int, default=1, help="provinces of 1,000 teams each")
    parser.add_argument("--no-exports", action="store_true", help="reports only (no workbook, no CLI export)")
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run (no generation)")
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_reports.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url, args.records, args.repeat, args.provinces, exports=not args.no_exports, reuse=args.reuse))


if __name__ == "__main__":
    main()
