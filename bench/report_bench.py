"""Benchmark (not a test): the weekly province report and the Excel export on a generated province.

Generates 1 province, 100 communes, 1,000 teams, 5,000 members and a year of records (~500,000 items) with bulk
inserts, then times the report, the Excel export and a hand-written single SQL aggregate over the same rows.

    python bench/report_bench.py --db sqlite
    python bench/report_bench.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reports
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

from tocns.config import Settings
from tocns.db.engine import Database, upgrade_database
from tocns.features.org.models import OrgUnit
from tocns.features.reports.period import Period, week_of
from tocns.features.reports.service import unit_report
from tocns.features.reports.store import stream_raw_records
from tocns.features.reports.workbook import write_workbook

COMMUNES, TEAMS_PER_COMMUNE, MEMBERS = 100, 10, 5000
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
WHERE r.deleted_at IS NULL AND r.activity_date BETWEEN :pstart AND :end AND t.path LIKE '/1/%'
GROUP BY i.indicator_id
"""


def _rows(seed: int, records: int) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple], list[tuple]]:
    rnd = random.Random(seed)
    units: list[tuple] = [(1, "P99", "Tỉnh Thử Nghiệm", "tinh thu nghiem", "province", None, "/1/", 0)]
    teams: list[int] = []
    uid = 2
    for c in range(COMMUNES):
        cid = uid
        units.append((cid, f"C{c:03d}", f"Xã {c:03d}", f"xa {c:03d}", "commune", 1, f"/1/{cid}/", 1))
        uid += 1
        for t in range(TEAMS_PER_COMMUNE):
            code = f"C{c:03d}-T{t + 1:02d}"
            units.append((uid, code, f"Thôn {t + 1}", f"thon {t + 1}", "team", cid, f"/1/{cid}/{uid}/", 2))
            teams.append(uid)
            uid += 1
    people = [(p + 1, "bench", f"u{p + 1}", f"Thành viên {p + 1}") for p in range(MEMBERS)]
    indicators = [(k + 1, code, code.upper(), "lượt", k) for k, code in enumerate(INDICATORS)]
    recs: list[tuple] = []
    items: list[tuple] = []
    item_id = 1
    for rid in range(1, records + 1):
        person = rnd.randint(1, MEMBERS)
        team = teams[(person - 1) // 5 % len(teams)]
        day = END - timedelta(days=rnd.randrange(DAYS))
        created = datetime(day.year, day.month, day.day, 3, tzinfo=UTC) + timedelta(hours=rnd.randint(0, 80))
        deleted = created + timedelta(hours=1) if rnd.random() < 0.03 else None
        recs.append((rid, person, team, day, "bench", "g", str(rid), created, deleted))
        for ind in rnd.sample(range(1, 11), 2):
            items.append((item_id, rid, ind, rnd.randint(1, 30)))
            item_id += 1
    return units, people, indicators, recs, items


async def _generate(db: Database, records: int) -> None:
    units, people, indicators, recs, items = _rows(42, records)
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
        conn.execute("ANALYZE")
        conn.close()
        return
    import asyncpg

    conn = await asyncpg.connect(db.url.replace("postgresql+asyncpg", "postgresql"))
    try:
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


async def _bench(url: str, records: int, repeat: int) -> None:
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
    else:
        await recreate_postgres_database(url)
    await asyncio.to_thread(upgrade_database, url)
    db = Database(url)
    t = time.perf_counter()
    await _generate(db, records)
    generation = time.perf_counter() - t
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    period = week_of(END)
    async with db.session() as session:
        conn = await session.connection()
        counts = (
            await conn.execute(text("SELECT (SELECT COUNT(*) FROM activity_item), (SELECT COUNT(*) FROM org_unit)"))
        ).one()
        province = await session.get(OrgUnit, 1)
        assert province is not None
        report_times, hand_times, excel_times = [], [], []
        params = {"start": period.start, "end": period.end, "pstart": period.previous().start}
        if db.is_sqlite:
            params = {k: v.isoformat() for k, v in params.items()}
        for _ in range(repeat):
            t = time.perf_counter()
            report = await unit_report(session, province, period, settings, now)
            report_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            hand = (await conn.execute(text(HAND_AGGREGATE), params)).all()
            hand_times.append(time.perf_counter() - t)
        for _ in range(max(1, repeat // 2)):
            t = time.perf_counter()
            buffer = io.BytesIO()
            raw_count = await write_workbook(
                report, stream_raw_records(session, province, period.start, period.end), settings.tz, buffer
            )
            workbook = buffer.getvalue()
            excel_times.append(time.perf_counter() - t)
        # The whole year in one workbook: every row kept (no cap), streamed, memory flat.
        year = Period(END - timedelta(days=DAYS - 1), END, "range")
        t = time.perf_counter()
        streamed = 0
        async for batch in stream_raw_records(session, province, year.start, year.end):
            streamed += len(batch)
        stream_time = time.perf_counter() - t
        live_items = (
            await conn.execute(
                text(
                    "SELECT COUNT(*) FROM activity_item i JOIN activity_record r ON r.id = i.record_id "
                    "WHERE r.deleted_at IS NULL"
                )
            )
        ).scalar_one()
    with tempfile.TemporaryDirectory() as tmp:
        # The real CLI in a child process (after this session ends: SQLite has one writer): its peak RSS for a
        # week and for the year, flat if the rows are streamed.
        week_rows, _week_time, week_rss, _week_size = _cli_xlsx(
            url, f"{period.start}..{period.end}", Path(tmp) / "t.xlsx"
        )
        year_rows, year_time, year_rss, year_size = _cli_xlsx(url, f"{year.start}..{year.end}", Path(tmp) / "n.xlsx")
    assert year_rows == streamed == live_items, (year_rows, streamed, live_items)
    assert sum(int(r[1]) for r in hand) == report.total_quantity, "report and hand aggregate disagree"
    assert sum(int(r[2]) for r in hand) == sum(t.previous for t in report.totals), "previous totals disagree"
    await db.dispose()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    rep, hnd, xl = _median(report_times), _median(hand_times), _median(excel_times)
    print(f"{backend}: {counts[0]:,} items, {counts[1]:,} units; generation {generation:.1f} s")
    print(f"  weekly province report: {rep * 1000:.0f} ms (median of {repeat}); week total {report.total_quantity:,}")
    print(f"  hand-written single aggregate (same two weeks): {hnd * 1000:.0f} ms; ratio {rep / hnd:.2f}x")
    print(f"  Excel export ({raw_count:,} raw rows, {len(workbook) // 1024} KiB): {xl:.2f} s")
    print(
        f"  `tocns report --format xlsx` for the year: {year_rows:,} raw rows (every live item), "
        f"{year_size / 2**20:.1f} MiB, {year_time:.1f} s ({year_time / stream_time:.1f}x reading the rows alone, "
        f"{stream_time:.1f} s); peak RSS {year_rss / 2**10:.0f} MiB against {week_rss / 2**10:.0f} MiB for the "
        f"week's {week_rows:,} rows ({year_rss / week_rss:.2f}x)"
    )


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (database recreated)")
    parser.add_argument("--records", type=int, default=250_000, help="records (2 items each)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_reports.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url, args.records, args.repeat))


if __name__ == "__main__":
    main()
