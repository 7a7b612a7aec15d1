"""Benchmark (not a test): the dashboard's province overview against the report service alone.

A province of 100 communes and 1,000 teams with a year of records (report_bench's generator), one signed-in
session; measured: GET /dashboard/?ky=2026-W47 through the ASGI app (session check, report, 8-week trend, overdue
tasks, latest directives, template), and `unit_report` alone for the same unit and week, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _common import recreate_postgres_database
from report_bench import _generate
from sqlmodel import select

from tocns.app import BotApp
from tocns.config import Settings
from tocns.core.period import parse_period
from tocns.db.engine import Database, upgrade_database
from tocns.features.dashboard import service
from tocns.features.dashboard.routes import COOKIE
from tocns.features.org.models import OrgUnit
from tocns.features.reports.service import unit_report
from tocns.web.app import create_app

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Vietnam, the day after the generated year ends
PERIOD = "2026-W47"


async def _bench(url: str, records: int, repeat: int) -> None:
    if url.startswith("sqlite"):
        Path(url.split(":///", 1)[1]).unlink(missing_ok=True)
    else:
        await recreate_postgres_database(url)
    await asyncio.to_thread(upgrade_database, url)
    db = Database(url)
    t = time.perf_counter()
    await _generate(db, records)
    print(f"generated {records:,} records in {time.perf_counter() - t:.1f} s ({url.split('://')[0]})")
    settings = Settings(
        _env_file=None,
        database_url=url,
        auto_migrate=False,
        link_signing_secret="bench-secret-0123456789",  # type: ignore[call-arg]
    )
    bot = BotApp.build(settings, db, lambda: NOW)
    async with db.session() as session:
        province = (await session.exec(select(OrgUnit).where(OrgUnit.code == "P99"))).one()
        token = await service.link_for_unit(session, province, NOW)
        link = await service.redeem(session, token, NOW)
        await session.flush()
        cookie = service.session_cookie(settings, link.id or 0, NOW)
    period = parse_period(PERIOD, NOW.astimezone(settings.tz).date())
    web = create_app(settings, bot_app=bot, channels=[])
    page_times: list[float] = []
    report_times: list[float] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://bench", cookies={COOKIE: cookie}
    ) as client:
        for run in range(repeat + 1):
            t = time.perf_counter()
            response = await client.get("/dashboard/", params={"ky": PERIOD})
            elapsed = time.perf_counter() - t
            assert response.status_code == 200 and "Tỉnh Thử Nghiệm" in response.text, response.text[:300]
            t2 = time.perf_counter()
            async with db.session() as session:
                report = await unit_report(session, province, period, settings, NOW)
            report_elapsed = time.perf_counter() - t2
            if run:  # the first round warms caches and connections
                page_times.append(elapsed)
                report_times.append(report_elapsed)
    assert report.teams == 1000 and len(report.children) == 100
    page, alone = statistics.median(page_times), statistics.median(report_times)
    size = len(response.content) // 1024
    print(f"  overview page (GET /dashboard/?ky={PERIOD}, {size} KiB HTML): {page * 1000:.0f} ms")
    print(f"  report service alone (unit_report, same unit and week): {alone * 1000:.0f} ms; ratio {page / alone:.2f}x")
    print(f"  medians of {repeat} runs; target: overview under 300 ms on PostgreSQL")
    await db.dispose()


def main() -> None:
    """Parse arguments and run the benchmark on one database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite", help="sqlite or a postgresql+asyncpg URL (database recreated)")
    parser.add_argument("--records", type=int, default=250_000, help="records (2 items each)")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    url = "sqlite+aiosqlite:////tmp/bench_dashboard.db" if args.db == "sqlite" else args.db
    asyncio.run(_bench(url, args.records, args.repeat))


if __name__ == "__main__":
    main()
